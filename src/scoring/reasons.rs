//! Why a lead scores as it does, in words a sales rep reads at a glance.
//!
//! A row's reasons are its tokens known to the model, ranked by how far each moves the log-odds
//! (the absolute weight; ties by token so the text is stable), each rendered as
//! `Key: value (raises)` or `(lowers)`. Because the model is additive in log-odds, the weight *is*
//! the token's contribution to this row's score: the explanation is exact, not an approximation.

use std::fmt::Write;

/// `revenue_band=10m_50m` -> `Revenue Band: 10m 50m`; a token without `=` is title-cased whole.
pub fn humanize(token: &str) -> String {
    match token.split_once('=') {
        Some((key, value)) => {
            let value = value.replace('_', " ");
            let value = value.trim();
            if value.is_empty() {
                format!("{}: (blank)", title_case(key))
            } else {
                format!("{}: {value}", title_case(key))
            }
        }
        None => title_case(token),
    }
}

/// Words split on `_` and spaces, each with its first letter upper-cased (the rest kept, so
/// acronyms such as `BANT` survive), joined by single spaces.
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c == '_' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The `n` known tokens with the largest |weight| (zero weights are no reason), joined by `"; "`.
/// `known` is a row's (token, weight) pairs; it is re-ordered in place.
pub fn top_reasons(known: &mut [(&str, f64)], n: usize) -> String {
    known.sort_unstable_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(b.0)));
    let mut out = String::new();
    for (token, weight) in known.iter().filter(|(_, w)| *w != 0.0).take(n) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let direction = if *weight > 0.0 { "raises" } else { "lowers" };
        // Writing to a String cannot fail.
        let _ = write!(out, "{} ({direction})", humanize(token));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_read_as_words() {
        assert_eq!(
            humanize("authority=economic_buyer"),
            "Authority: economic buyer"
        );
        assert_eq!(humanize("industry=Software"), "Industry: Software");
        assert_eq!(humanize("revenue_band=10m_50m"), "Revenue Band: 10m 50m");
        assert_eq!(humanize("channel=Paid Search"), "Channel: Paid Search");
        assert_eq!(humanize("campaign=spring=2024"), "Campaign: spring=2024");
        assert_eq!(humanize("BANT_complete"), "BANT Complete");
        assert_eq!(humanize("country="), "Country: (blank)");
        assert_eq!(humanize(""), "");
    }

    #[test]
    fn strongest_first_with_direction() {
        let mut known = vec![
            ("channel=Paid_Search", -0.8),
            ("industry=Software", 0.9),
            ("authority=economic_buyer", 1.4),
            ("persona=engineer", 0.1),
            ("country=FI", 0.0),
        ];
        assert_eq!(
            top_reasons(&mut known, 3),
            "Authority: economic buyer (raises); Industry: Software (raises); \
             Channel: Paid Search (lowers)"
        );
        assert_eq!(top_reasons(&mut known, 0), "");
        // Zero weights are never reasons, even when n asks for more.
        assert_eq!(top_reasons(&mut known, 10).matches("; ").count(), 3);
    }

    #[test]
    fn ties_break_by_token() {
        let mut a = vec![("b=1", 0.5), ("a=1", -0.5)];
        let mut b = vec![("a=1", -0.5), ("b=1", 0.5)];
        assert_eq!(top_reasons(&mut a, 1), "A: 1 (lowers)");
        assert_eq!(top_reasons(&mut b, 1), "A: 1 (lowers)");
    }
}
