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
            return Some(found);
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
