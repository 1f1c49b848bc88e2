//! A span-keeping YAML reader.
//!
//! Every node remembers where it came from (file, line, column), so that any
//! problem found later — a typo, a dangling reference, a cycle — can point at
//! the exact text. Hostile input is bounded here, before anything else sees
//! it: files are size-limited, nesting depth is capped, and alias expansion
//! has a budget, so a "billion laughs" document fails fast instead of eating
//! memory. The reader pulls events one at a time (no recursion), so deep
//! nesting cannot overflow the stack.

use std::fmt;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest stack file panka reads.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 64;
/// Nodes that aliases may add to one file by expansion.
pub const MAX_ALIAS_NODES: usize = 100_000;

pub use crate::diagnostic::span::{FileId, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `plain` is true for an unquoted scalar: a plain `${VAR}` takes the
    /// type of the variable's value, a quoted one stays a string.
    Str {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// One segment of a path into a document (`spec.ports[0].port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node { value, span }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry of a mapping node by key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// Walk a path of keys and indexes; `None` when any step is missing.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.value) {
                (PathSeg::Key(k), Value::Map(_)) => node.get(k)?,
                (PathSeg::Index(i), Value::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best span for a path: the node itself, or the deepest existing
    /// ancestor when the path ends in a missing key.
    pub fn span_at(&self, path: &[PathSeg]) -> Span {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.value) {
                (PathSeg::Key(k), Value::Map(_)) => node.get(k),
                (PathSeg::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.span
    }

    /// The span of a key in the mapping at `path` (for "unknown field" errors).
    pub fn key_span_at(&self, path: &[PathSeg], key: &str) -> Option<Span> {
        self.at(path)?.entry(key).map(|e| e.key_span)
    }

    /// Convert to JSON for typed deserialization. Keys keep their order.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::Str { value, .. } => J::String(value.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }

    /// A short name of the node's type for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

pub fn path_to_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
        }
    }
    out
}

/// A problem found while reading YAML text.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub span: Span,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.col, self.message)
    }
}

/// A parsed document and the span of its first line.
#[derive(Debug, Clone)]
pub struct RawDocument {
    pub root: Node,
    pub start: Span,
}

/// Refuse a file over the size limit (called with its length on disk before reading).
pub fn check_size(file: FileId, len: u64) -> Result<(), YamlError> {
    if len > MAX_FILE_BYTES as u64 {
        return Err(YamlError {
            span: Span::new(file, 1, 1, 1),
            code: "file-too-large",
            message: format!(
                "file is {:.1} MiB; stack files are limited to {} MiB",
                len as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            hint: Some("split the stack into one file per service or component".into()),
        });
    }
    Ok(())
}

/// Check the raw bytes of a file before parsing: size, encoding.
pub fn check_bytes(file: FileId, bytes: &[u8]) -> Result<&str, YamlError> {
    check_size(file, bytes.len() as u64)?;
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&good[line_start..]).chars().count() as u32 + 1;
        YamlError {
            span: Span::new(file, line, col, 1),
            code: "invalid-utf8",
            message: format!("file is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            hint: Some("save the file as UTF-8".into()),
        }
    })
}

/// Parse every document of a YAML text.
pub fn parse(file: FileId, text: &str) -> Result<Vec<RawDocument>, YamlError> {
    Reader::new(file, text).run()
}

struct Frame {
    node: Node,
    anchor: usize,
    /// For mappings: the key waiting for its value.
    pending_key: Option<(String, Span)>,
}

struct Reader<'a> {
    file: FileId,
    text: &'a str,
    parser: Parser<std::str::Chars<'a>>,
    anchors: Vec<(usize, Node)>,
    alias_budget: usize,
}

impl<'a> Reader<'a> {
    fn new(file: FileId, text: &'a str) -> Self {
        Reader { file, text, parser: Parser::new_from_str(text), anchors: Vec::new(), alias_budget: MAX_ALIAS_NODES }
    }

    fn span(&self, m: &Marker, len: usize) -> Span {
        Span::new(self.file, m.line() as u32, m.col() as u32 + 1, len as u32)
    }

    fn error(&self, span: Span, code: &'static str, message: impl Into<String>) -> YamlError {
        YamlError { span, code, message: message.into(), hint: None }
    }

    fn run(mut self) -> Result<Vec<RawDocument>, YamlError> {
        let mut docs = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut doc_start = Span::new(self.file, 1, 1, 1);
        loop {
            let (event, mark) = self.parser.next_token().map_err(|e| self.scan_error(&e))?;
            let node = match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    doc_start = self.span(&mark, 3);
                    self.anchors.clear();
                    continue;
                }
                Event::DocumentEnd => continue,
                Event::Alias(id) => {
                    let span = self.span(&mark, 1);
                    let Some(target) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                        return Err(self.error(span, "yaml-syntax", "alias refers to an unknown anchor"));
                    };
                    let target = target.1.clone();
                    let size = count_nodes(&target);
                    if size > self.alias_budget {
                        let mut err =
                            self.error(span, "alias-limit", "aliases expand to too many nodes (possible alias bomb)");
                        err.hint = Some(format!(
                            "a file may add at most {MAX_ALIAS_NODES} nodes through aliases; write the values out"
                        ));
                        return Err(err);
                    }
                    self.alias_budget -= size;
                    Node { span, ..target }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let len = self.token_len(&mark, &value, style);
                    let span = self.span(&mark, len);
                    let node = Node::new(self.scalar(value, style, tag.as_ref(), span)?, span);
                    if anchor > 0 {
                        self.anchors.push((anchor, node.clone()));
                    }
                    node
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    let span = self.span(&mark, 1);
                    if stack.len() >= MAX_DEPTH {
                        let mut err =
                            self.error(span, "too-deep", format!("nesting is deeper than {MAX_DEPTH} levels"));
                        err.hint = Some("panka documents are never this deep; check the indentation".into());
                        return Err(err);
                    }
                    let value = if matches!(event, Event::SequenceStart(..)) {
                        Value::Seq(Vec::new())
                    } else {
                        Value::Map(Vec::new())
                    };
                    stack.push(Frame { node: Node::new(value, span), anchor, pending_key: None });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let frame = stack.pop().expect("parser balances start and end events");
                    if frame.anchor > 0 {
                        self.anchors.push((frame.anchor, frame.node.clone()));
                    }
                    frame.node
                }
            };
            match stack.last_mut() {
                None => {
                    let mut root = node;
                    if let Value::Map(entries) = &root.value {
                        if let Some(first) = entries.first() {
                            root.span = first.key_span;
                        }
                    }
                    docs.push(RawDocument { root, start: doc_start });
                }
                Some(parent) => self.attach(parent, node)?,
            }
        }
        Ok(docs)
    }

    fn attach(&self, parent: &mut Frame, node: Node) -> Result<(), YamlError> {
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.pending_key.take() {
                None => {
                    let key = match &node.value {
                        Value::Str { value, .. } => value.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(self.error(node.span, "yaml-syntax", "a mapping key must be a plain value"));
                        }
                    };
                    if key == "<<" {
                        let mut err =
                            self.error(node.span, "yaml-merge-key", "YAML merge keys (`<<`) are not supported");
                        err.hint = Some("use stack `spec.defaults` or an environment overlay instead".into());
                        return Err(err);
                    }
                    if let Some(prev) = entries.iter().find(|e| e.key == key) {
                        let mut err = self.error(node.span, "duplicate-key", format!("duplicate key `{key}`"));
                        err.hint = Some(format!("`{key}` is already set on line {}", prev.key_span.line));
                        return Err(err);
                    }
                    parent.pending_key = Some((key, node.span));
                }
                Some((key, key_span)) => {
                    // A block collection's start mark is wherever the parser
                    // noticed it; its key is the place a person looks for.
                    let mut node = node;
                    if matches!(node.value, Value::Map(_) | Value::Seq(_)) && node.span.line != key_span.line {
                        node.span = key_span;
                    }
                    entries.push(Entry { key, key_span, value: node })
                }
            },
            _ => unreachable!("only collections are pushed on the stack"),
        }
        Ok(())
    }

    fn scalar(&self, value: String, style: TScalarStyle, tag: Option<&Tag>, span: Span) -> Result<Value, YamlError> {
        if let Some(tag) = tag {
            return match (tag.handle.as_str(), tag.suffix.as_str()) {
                ("!!", "str") | ("tag:yaml.org,2002:", "str") => Ok(Value::Str { value, plain: false }),
                _ => {
                    let mut err = self.error(
                        span,
                        "yaml-tag",
                        format!("YAML tag `{}{}` is not supported", tag.handle, tag.suffix),
                    );
                    err.hint = Some("remove the tag; quote the value to make it a string".into());
                    Err(err)
                }
            };
        }
        if style != TScalarStyle::Plain {
            return Ok(Value::Str { value, plain: false });
        }
        Ok(resolve_plain(value))
    }

    /// Length of a scalar token in characters, for the caret under it.
    fn token_len(&self, mark: &Marker, value: &str, style: TScalarStyle) -> usize {
        let chars = value.chars().count();
        match style {
            TScalarStyle::Plain if !value.contains('\n') => chars,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted if !value.contains('\n') => {
                // Count up to the closing quote on the same line in the source.
                let line = self.text.lines().nth(mark.line().saturating_sub(1)).unwrap_or("");
                let rest: String = line.chars().skip(mark.col()).collect();
                let quote = rest.chars().next().unwrap_or('"');
                rest.chars().skip(1).position(|c| c == quote).map_or(chars + 2, |p| p + 2)
            }
            _ => 1,
        }
    }

    fn scan_error(&self, e: &yaml_rust2::ScanError) -> YamlError {
        let m = e.marker();
        let span = Span::new(self.file, m.line() as u32, m.col() as u32 + 1, 1);
        let info = e.info();
        let line_text = self.text.lines().nth(m.line().saturating_sub(1)).unwrap_or("");
        let hint = if line_text.starts_with(['\t', ' ']) && line_text.trim_start_matches(' ').starts_with('\t')
            || info.contains("tab")
        {
            Some("YAML indentation must use spaces, not tabs".to_string())
        } else {
            None
        };
        if info.contains("recursion limit") {
            return YamlError {
                span,
                code: "too-deep",
                message: "nesting is too deep".to_string(),
                hint: Some("panka documents are never this deep; check the brackets and indentation".into()),
            };
        }
        YamlError { span, code: "yaml-syntax", message: format!("invalid YAML: {info}"), hint }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(value: String) -> Value {
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let s = value.as_str();
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    if looks_like_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str { value, plain: true }
}

fn looks_like_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let ok_int = int.bytes().all(|b| b.is_ascii_digit());
    let ok_frac = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()));
    let has_digits = !int.is_empty() || frac.is_some_and(|f| !f.is_empty());
    let ok_exp = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    ok_int && ok_frac && has_digits && ok_exp && (frac.is_some() || exp.is_some())
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}

/// Parse `spec.ports[0].port` into path segments.
pub fn path(s: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in s.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(PathSeg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                out.push(PathSeg::Index(stripped[..end].parse().unwrap_or(0)));
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else {
            out.push(PathSeg::Key(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path("spec.ports[0].port"),
            vec![
                PathSeg::Key("spec".into()),
                PathSeg::Key("ports".into()),
                PathSeg::Index(0),
                PathSeg::Key("port".into())
            ]
        );
    }

    fn one(text: &str) -> Node {
        let mut docs = parse(FileId(0), text).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0).root
    }

    #[test]
    fn spans_point_at_values_and_keys() {
        let n = one("a:\n  bb: hello\n  list: [1, \"two\"]\n");
        let bb = n.get("a").unwrap().entry("bb").unwrap();
        assert_eq!((bb.key_span.line, bb.key_span.col), (2, 3));
        assert_eq!((bb.value.span.line, bb.value.span.col, bb.value.span.len), (2, 7, 5));
        let two = &n.get("a").unwrap().get("list").unwrap().as_seq().unwrap()[1];
        assert_eq!((two.span.line, two.span.col, two.span.len), (3, 13, 5));
        assert_eq!(two.as_str(), Some("two"));
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2() {
        let n = one("a: 1\nb: 1.5\nc: true\nd: ~\ne: \"1\"\nf: 1.2.3\ng: 0x1f\n");
        assert_eq!(n.get("a").unwrap().value, Value::Int(1));
        assert_eq!(n.get("b").unwrap().value, Value::Float(1.5));
        assert_eq!(n.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("d").unwrap().value, Value::Null);
        assert_eq!(n.get("e").unwrap().as_str(), Some("1"));
        assert_eq!(n.get("f").unwrap().as_str(), Some("1.2.3"));
        assert_eq!(n.get("g").unwrap().value, Value::Int(31));
    }

    #[test]
    fn multiple_documents() {
        let docs = parse(FileId(0), "a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].root.span.line, 3);
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_lines() {
        let err = parse(FileId(0), "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.code, "duplicate-key");
        assert_eq!(err.span.line, 3);
        assert!(err.hint.unwrap().contains("line 1"));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = parse(FileId(0), &text).unwrap_err();
        assert_eq!(err.code, "too-deep");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            text += &format!("{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n");
            prev = n;
        }
        let err = parse(FileId(0), &text).unwrap_err();
        assert_eq!(err.code, "alias-limit");
    }

    #[test]
    fn small_aliases_work() {
        let n = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(n.get("b").unwrap().get("k").unwrap().as_str(), Some("v"));
    }

    #[test]
    fn tab_indentation_is_a_located_syntax_error() {
        let err = parse(FileId(0), "a:\n\tb: 1\n").unwrap_err();
        assert_eq!(err.code, "yaml-syntax");
        assert_eq!(err.span.line, 2);
    }

    #[test]
    fn invalid_utf8_is_located() {
        let err = check_bytes(FileId(0), b"a: 1\nb: \xff\n").unwrap_err();
        assert_eq!(err.code, "invalid-utf8");
        assert_eq!((err.span.line, err.span.col), (2, 4));
    }
}
