//! Overlay merge (SPEC §2): mappings merge key by key, scalars replace,
//! `null` deletes, lists replace — except lists of named items (every item a
//! mapping with a `name`), which merge item by item on `name`. Spans come
//! from whichever file supplied a value, so errors point into overlays.

use super::yaml::{Node, Value};

pub fn merge(base: &mut Node, overlay: Node) {
    match (&mut base.value, overlay.value) {
        (Value::Map(base_entries), Value::Map(over_entries)) => {
            for e in over_entries {
                if e.value.value == Value::Null {
                    base_entries.retain(|b| b.key != e.key);
                    continue;
                }
                match base_entries.iter_mut().find(|b| b.key == e.key) {
                    Some(b) => merge(&mut b.value, e.value),
                    None => base_entries.push(e),
                }
            }
        }
        (Value::Seq(base_items), Value::Seq(over_items)) if is_named(base_items) && is_named(&over_items) => {
            for item in over_items {
                let name = item_name(&item).map(str::to_string);
                match base_items.iter_mut().find(|b| item_name(b) == name.as_deref()) {
                    Some(b) => merge(b, item),
                    None => base_items.push(item),
                }
            }
        }
        (_, value) => {
            *base = Node { value, span: overlay.span };
        }
    }
}

fn item_name(n: &Node) -> Option<&str> {
    n.get("name").and_then(Node::as_str)
}

fn is_named(items: &[Node]) -> bool {
    !items.is_empty() && items.iter().all(|i| item_name(i).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse, FileId};

    fn doc(t: &str) -> Node {
        parse(FileId(0), t).unwrap().remove(0).root
    }

    #[test]
    fn merge_rules() {
        let mut base = doc("a: {x: 1, y: 2}\nlist: [1, 2]\nenv: [{name: A, value: a}, {name: B, value: b}]\ngone: 1\n");
        let over = doc("a: {y: 3}\nlist: [9]\nenv: [{name: B, value: bb}, {name: C, value: c}]\ngone: null\n");
        merge(&mut base, over);
        let expect =
            doc("a: {x: 1, y: 3}\nlist: [9]\nenv: [{name: A, value: a}, {name: B, value: bb}, {name: C, value: c}]\n");
        assert_eq!(base.to_json(), expect.to_json());
    }
}
