//! Pulumi YAML string interpolation: escaping user text and parsing `${…}`.
//!
//! Pulumi YAML reads every string value as an interpolation template: `$$`
//! is a literal `$` and `${path}` reads a property path. So the only safe
//! escape is to double *every* `$` (which turns `${` into `$${`, as SPEC §4
//! asks, and also keeps `a$$b` and `$${` intact). [`escape`] does that and
//! [`parse`] reads a template the way Pulumi YAML does; for every string `s`,
//! `parse(&escape(s))` is one literal part equal to `s`.

use std::fmt;

/// One accessor in a property path: `.name`, `["key"]` or `[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accessor {
    Name(String),
    Key(String),
    Index(usize),
}

/// A parsed `${…}` property access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub accessors: Vec<Accessor>,
}

impl Access {
    /// The root name (`res` in `${res.prop}`), whether written as a name or
    /// a quoted subscript.
    pub fn root(&self) -> Option<&str> {
        match self.accessors.first()? {
            Accessor::Name(n) | Accessor::Key(n) => Some(n),
            Accessor::Index(_) => None,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.accessors.iter().enumerate() {
            match a {
                Accessor::Name(n) if i == 0 => write!(f, "{n}")?,
                Accessor::Name(n) => write!(f, ".{n}")?,
                Accessor::Key(k) => write!(f, "[{k:?}]")?,
                Accessor::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Interp(Access),
}

/// Escapes `text` so Pulumi YAML reads it back verbatim.
pub fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

/// Parses a Pulumi YAML string into literal text and property accesses.
pub fn parse(value: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("$$") {
            text.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let (access, r) = parse_access(r)?;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Interp(access));
            rest = r;
        } else {
            let c = rest.chars().next().expect("non-empty");
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// If `value` is exactly one interpolation (`${x.y}`), returns it.
pub fn whole_interpolation(value: &str) -> Option<Access> {
    match parse(value).ok()?.as_slice() {
        [Part::Interp(a)] => Some(a.clone()),
        _ => None,
    }
}

fn parse_access(mut s: &str) -> Result<(Access, &str), String> {
    let mut accessors = Vec::new();
    loop {
        let Some(c) = s.chars().next() else {
            return Err("unterminated interpolation".into());
        };
        match c {
            '}' => {
                if accessors.is_empty() {
                    return Err("empty interpolation `${}`".into());
                }
                return Ok((Access { accessors }, &s[1..]));
            }
            '.' => s = &s[1..],
            '[' => {
                if let Some(q) = s[1..].strip_prefix('"') {
                    let mut key = String::new();
                    let mut chars = q.char_indices();
                    let end = loop {
                        match chars.next() {
                            None => return Err("missing closing quote in property name".into()),
                            Some((i, '"')) => break i + 1,
                            Some((_, '\\')) if q[chars.offset()..].starts_with('"') => {
                                chars.next();
                                key.push('"');
                            }
                            Some((_, ch)) => key.push(ch),
                        }
                    };
                    let after = &q[end..];
                    let Some(after) = after.strip_prefix(']') else {
                        return Err("missing closing bracket in property access".into());
                    };
                    accessors.push(Accessor::Key(key));
                    s = after;
                } else {
                    let close = s.find(']').ok_or("missing closing bracket in list index")?;
                    let index: usize =
                        s[1..close].parse().map_err(|_| format!("invalid list index `{}`", &s[1..close]))?;
                    if accessors.is_empty() {
                        return Err("the root property must be a string subscript or a name".into());
                    }
                    accessors.push(Accessor::Index(index));
                    s = &s[close + 1..];
                }
            }
            _ => {
                let end = s.find(['.', '[', '}']).unwrap_or(s.len());
                accessors.push(Accessor::Name(s[..end].to_string()));
                s = &s[end..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Accessor {
        Accessor::Name(n.into())
    }

    #[test]
    fn parses_text_and_accesses() {
        let parts = parse("http://${lb.dnsName}/x").unwrap();
        assert_eq!(
            parts,
            vec![
                Part::Text("http://".into()),
                Part::Interp(Access { accessors: vec![name("lb"), name("dnsName")] }),
                Part::Text("/x".into()),
            ]
        );
        let a = whole_interpolation(r#"${ref.outputs["a.b"][2]}"#).unwrap();
        assert_eq!(a.accessors, vec![name("ref"), name("outputs"), Accessor::Key("a.b".into()), Accessor::Index(2)]);
        assert_eq!(a.to_string(), r#"ref.outputs["a.b"][2]"#);
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(parse("$${x}").unwrap(), vec![Part::Text("${x}".into())]);
        assert_eq!(parse("a$$b").unwrap(), vec![Part::Text("a$b".into())]);
        // `$$$${` is `$$` + `${`: the second pair does not start an access.
        assert_eq!(parse("$$$${").unwrap(), vec![Part::Text("$${".into())]);
        assert!(whole_interpolation("$${x}").is_none());
    }

    #[test]
    fn malformed_interpolations_are_errors() {
        assert!(parse("${x").is_err());
        assert!(parse("${}").is_err());
        assert!(parse("${[0]}").is_err());
        assert!(parse(r#"${x["a}"#).is_err());
    }

    #[test]
    fn escape_round_trips_hostile_strings() {
        for s in
            ["${x}", "$${x}", "a$$b", "$", "$$$", "${", "}${a.b}{", "price: $5 # not a comment", "ünïcødé ${ß}", ""]
        {
            let escaped = escape(s);
            let parts = parse(&escaped).unwrap();
            let back: String = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.clone(),
                    Part::Interp(a) => panic!("{s:?} interpolates {a}"),
                })
                .collect();
            assert_eq!(back, s);
        }
        assert_eq!(escape("${x}"), "$${x}");
    }
}
