//! Name rules (SPEC §3): lowercase DNS labels, so that names are safe as
//! S3 key segments, lock keys, Pulumi project names and AWS resource names.

/// Why a name is not acceptable, or `None` if it is.
pub fn check_name(name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > max {
        return Some(format!("is {} characters long; the limit is {max}", name.chars().count()));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lowercase letter".into());
    }
    if name.ends_with('-') {
        return Some("must not end with `-`".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Some(format!("contains `{}`; use lowercase letters, digits and `-`", bad.escape_default()));
    }
    if name.contains("--") {
        return Some("must not contain `--`".into());
    }
    None
}

/// A close valid spelling of an invalid name, for the hint.
pub fn suggest_name(name: &str, max: usize) -> Option<String> {
    let mut s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').chars().take(max).collect::<String>().trim_end_matches('-').to_string();
    (check_name(&s, max).is_none()).then_some(s)
}

pub const STACK_NAME_MAX: usize = 24;
pub const NAME_MAX: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name("backend-api", 32), None);
        assert!(check_name("../../x", 32).is_some());
        assert!(check_name("Api", 32).is_some());
        assert!(check_name("my_api", 32).unwrap().contains('_'));
        assert!(check_name(&"a".repeat(33), 32).is_some());
        assert_eq!(suggest_name("My_API", 32).as_deref(), Some("my-api"));
        assert_eq!(suggest_name("../../x", 32).as_deref(), Some("x"));
    }
}
