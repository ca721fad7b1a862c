//! `${VAR}` and `${VAR:-default}` interpolation of the pipeline text, before parsing.
//!
//! Done on the text (not the parsed tree) so that every key and value can come from the
//! environment, and so line numbers of later errors still point into the file as written.
//! Comment lines are left alone; `$${` writes a literal `${`.

use super::Problem;
use std::collections::BTreeMap;

pub(crate) fn interpolate(
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        let mut col = 1;
        while let Some(i) = rest.find("${") {
            if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                out.push_str(&rest[..i - 1]);
                out.push_str("${");
                col += i + 2;
                rest = &rest[i + 2..];
                continue;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                problems.push(Problem {
                    line: Some(lineno + 1),
                    column: Some(col + i),
                    path: String::new(),
                    message: "unterminated `${`: write ${NAME} or ${NAME:-default}".into(),
                });
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let expr = &after[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                problems.push(Problem {
                    line: Some(lineno + 1),
                    column: Some(col + i),
                    path: String::new(),
                    message: format!("`${{{expr}}}` is not a valid environment variable reference"),
                });
            } else {
                match (env.get(name), default) {
                    (Some(v), _) if !v.is_empty() || default.is_none() => out.push_str(v),
                    (_, Some(d)) => out.push_str(d),
                    (None, None) => problems.push(Problem {
                        line: Some(lineno + 1),
                        column: Some(col + i),
                        path: String::new(),
                        message: format!(
                            "environment variable `{name}` is not set (set it, or write ${{{name}:-default}})"
                        ),
                    }),
                    (Some(v), None) => out.push_str(v),
                }
            }
            col += i + 2 + end + 1;
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
