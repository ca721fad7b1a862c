//! Finds the line and column of a key path (`sources.leads.columns.Id`) in block-style YAML.
//!
//! serde_yaml gives locations only for errors it raises itself; problems found later by
//! validation are placed with this small indentation scanner. It understands the block style the
//! shipped pipelines use; when it cannot find a key, the problem keeps just its path.

pub(crate) fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    if path.is_empty() {
        return None;
    }
    let want: Vec<&str> = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect();
    // Try the full path, then ever shorter prefixes so a problem lands near its cause.
    for len in (1..=want.len()).rev() {
        if let Some(found) = find(text, &want[..len]) {
            // `tests[2]`: the third `- ` item under the key, when the list is in block style.
            let last = path.split('.').nth(len - 1).unwrap_or_default();
            return Some(match list_index(last) {
                Some(i) => nth_item(text, found, i).unwrap_or(found),
                None => found,
            });
        }
    }
    None
}

fn list_index(segment: &str) -> Option<usize> {
    let (_, rest) = segment.split_once('[')?;
    rest.strip_suffix(']')?.parse().ok()
}

/// The `index`-th block list item below the key found at (line, column).
fn nth_item(text: &str, (line, column): (usize, usize), index: usize) -> Option<(usize, usize)> {
    let key_indent = column - 1;
    let mut seen = 0;
    let mut item_indent = None;
    for (lineno, l) in text.lines().enumerate().skip(line) {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = l.len() - trimmed.len();
        if indent <= key_indent && !(indent == key_indent && trimmed.starts_with("- ")) {
            return None;
        }
        if trimmed.starts_with("- ") && item_indent.is_none_or(|i| i == indent) {
            item_indent = Some(indent);
            if seen == index {
                return Some((lineno + 1, indent + 1));
            }
            seen += 1;
        }
    }
    None
}

fn find(text: &str, want: &[&str]) -> Option<(usize, usize)> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let Some(key) = key_of(body) else { continue };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        if stack.len() == want.len() && stack.iter().zip(want).all(|((_, k), w)| k == w) {
            return Some((lineno + 1, indent + 1));
        }
    }
    None
}

fn key_of(body: &str) -> Option<String> {
    let (key, _) = body.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    if key.is_empty() || key.contains(' ') && !body.starts_with(['"', '\'']) {
        return None;
    }
    Some(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::locate;

    const TEXT: &str = "checks:\n  m:\n    columns:\n      id: [not_null]\n    tests:\n      - unique: [id]\n      # a comment\n      - row_count: {min: 1}\n        severity: warn\n      - expression: a > b\nsources: {}\n";

    #[test]
    fn keys_and_list_items_are_found() {
        assert_eq!(locate(TEXT, "checks.m.columns.id[0]"), Some((4, 7)));
        assert_eq!(locate(TEXT, "checks.m.tests[0]"), Some((6, 7)));
        assert_eq!(locate(TEXT, "checks.m.tests[1]"), Some((8, 7)));
        assert_eq!(locate(TEXT, "checks.m.tests[2]"), Some((10, 7)));
        assert_eq!(
            locate(TEXT, "checks.m.tests[9]"),
            Some((5, 5)),
            "past the end: the key"
        );
        assert_eq!(
            locate(TEXT, "checks.nope"),
            Some((1, 1)),
            "the nearest known prefix"
        );
    }
}
