//! panka template strings (SPEC §4).
//!
//! Input strings may hold `${NAME}` (a variable), `${service.NAME}` (a
//! service variable), `${component.output}` and `${service.component.output}`
//! (outputs of other components), and `$${` for a literal `${`.
//!
//! After resolution a string is still in this grammar, with two guarantees:
//! variables have been substituted (their values escaped, so they stay
//! literal) and every remaining `${…}` is a canonical output reference
//! `${service.component.output}`. [`parse`] splits such a string into
//! literal text and references for the plan and the Pulumi emitter.

use serde::{Deserialize, Serialize};

/// An output of another component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutputRef {
    pub service: String,
    pub component: String,
    pub output: String,
}

impl OutputRef {
    pub fn key(&self) -> String {
        format!("{}/{}", self.service, self.component)
    }
}

impl std::fmt::Display for OutputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${{{}.{}.{}}}", self.service, self.component, self.output)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text with escapes already removed.
    Literal(String),
    Ref(OutputRef),
}

/// A raw `${…}` expression found in an input string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr<'a> {
    /// Byte offset of `$` in the string.
    pub start: usize,
    /// Byte offset just past `}`.
    pub end: usize,
    pub body: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// Text, still escaped (`$${` kept as is).
    Text(&'a str),
    Expr(Expr<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// Split an input string into escaped text and `${…}` expressions.
pub fn tokenize(s: &str) -> Result<Vec<Token<'_>>, TemplateError> {
    let mut tokens = Vec::new();
    let bytes = s.as_bytes();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            i += 3; // escaped: stays in the text
            continue;
        }
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            let Some(close) = s[i + 2..].find('}') else {
                return Err(TemplateError { offset: i, message: "`${` is not closed by `}`".into() });
            };
            if text_start < i {
                tokens.push(Token::Text(&s[text_start..i]));
            }
            let end = i + 2 + close + 1;
            tokens.push(Token::Expr(Expr { start: i, end, body: &s[i + 2..i + 2 + close] }));
            i = end;
            text_start = end;
            continue;
        }
        i += 1;
    }
    if text_start < s.len() {
        tokens.push(Token::Text(&s[text_start..]));
    }
    Ok(tokens)
}

/// Escape literal text so that it is never read as a reference.
pub fn escape(s: &str) -> String {
    if s.contains("${") {
        s.replace("${", "$${")
    } else {
        s.to_string()
    }
}

/// Remove escapes from literal text.
pub fn unescape(s: &str) -> String {
    if s.contains("$${") {
        s.replace("$${", "${")
    } else {
        s.to_string()
    }
}

/// Parse a resolved string into literal parts and output references.
pub fn parse(s: &str) -> Vec<Part> {
    let Ok(tokens) = tokenize(s) else {
        return vec![Part::Literal(unescape(s))];
    };
    let mut parts = Vec::new();
    for t in tokens {
        match t {
            Token::Text(text) => parts.push(Part::Literal(unescape(text))),
            Token::Expr(e) => {
                let mut it = e.body.splitn(3, '.');
                match (it.next(), it.next(), it.next()) {
                    (Some(service), Some(component), Some(output)) => parts.push(Part::Ref(OutputRef {
                        service: service.to_string(),
                        component: component.to_string(),
                        output: output.to_string(),
                    })),
                    _ => parts.push(Part::Literal(format!("${{{}}}", e.body))),
                }
            }
        }
    }
    parts
}

/// The output references in a resolved string.
pub fn refs(s: &str) -> Vec<OutputRef> {
    if !s.contains("${") {
        return Vec::new();
    }
    parse(s)
        .into_iter()
        .filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Literal(_) => None,
        })
        .collect()
}

/// The literal value of a resolved string, or `None` if it holds references.
pub fn literal(s: &str) -> Option<String> {
    if !s.contains('$') {
        return Some(s.to_string());
    }
    let mut out = String::new();
    for p in parse(s) {
        match p {
            Part::Literal(l) => out.push_str(&l),
            Part::Ref(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_text_and_exprs_are_found() {
        let t = tokenize("a $${x} ${B} c").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0], Token::Text("a $${x} "));
        assert!(matches!(&t[1], Token::Expr(e) if e.body == "B"));
    }

    #[test]
    fn unclosed_expression_is_an_error() {
        assert_eq!(tokenize("ab ${x").unwrap_err().offset, 3);
    }

    #[test]
    fn parse_splits_refs_and_unescapes() {
        let parts = parse("host=${b.db.address};lit=$${no}");
        assert_eq!(
            parts,
            vec![
                Part::Literal("host=".into()),
                Part::Ref(OutputRef { service: "b".into(), component: "db".into(), output: "address".into() }),
                Part::Literal(";lit=${no}".into()),
            ]
        );
        assert_eq!(literal("a$${b}"), Some("a${b}".into()));
        assert_eq!(literal("${a.b.c}"), None);
    }

    #[test]
    fn escape_roundtrips() {
        let hostile = "${x} $${y} }{ $";
        assert_eq!(literal(&escape(hostile)), Some(hostile.to_string()));
    }
}
