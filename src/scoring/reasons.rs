//! Why a lead scores as it does, in words a sales rep reads at a glance.
//!
//! A row's reasons are its tokens known to the model, ranked by how far each moves the log-odds
//! (the absolute weight; ties by token so the text is stable), each rendered as
//! `Key: value (raises)` or `(lowers)`. Because the model is additive in log-odds, the weight *is*
//! the token's contribution to this row's score: the explanation is exact, not an approximation.

use super::model::Model;

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

/// A token's reason text: `Key: value (raises)` for a positive weight, `(lowers)` otherwise.
pub fn reason(token: &str, weight: f64) -> String {
    let direction = if weight > 0.0 { "raises" } else { "lowers" };
    format!("{} ({direction})", humanize(token))
}

/// The `n` known tokens with the largest |weight| (zero weights are no reason), joined by `"; "`.
/// `known` is a row's token ranks ([`Model::known`]); it is re-ordered in place.
pub fn top_reasons(model: &Model, known: &mut [u32], n: usize) -> String {
    known.sort_unstable_by(|&a, &b| {
        let (wa, wb) = (model.token(a).weight, model.token(b).weight);
        wb.abs().total_cmp(&wa.abs()).then_with(|| a.cmp(&b))
    });
    let mut out = String::new();
    for k in known
        .iter()
        .map(|&r| model.token(r))
        .filter(|k| k.weight != 0.0)
        .take(n)
    {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(&k.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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

    /// A model of `weights`, and its known tokens for all of them.
    fn model(weights: &[(&str, f64)]) -> Model {
        let json = serde_json::json!({
            "intercept": 0.0,
            "weights": weights.iter().map(|(t, w)| (t.to_string(), *w)).collect::<HashMap<_, _>>(),
        });
        Model::parse(&json.to_string()).unwrap()
    }

    #[test]
    fn strongest_first_with_direction() {
        let m = model(&[
            ("channel=Paid_Search", -0.8),
            ("industry=Software", 0.9),
            ("authority=economic_buyer", 1.4),
            ("persona=engineer", 0.1),
            ("country=FI", 0.0),
        ]);
        let mut known = Vec::new();
        m.known(
            [
                "channel=Paid_Search",
                "industry=Software",
                "authority=economic_buyer",
                "persona=engineer",
                "country=FI",
                "unknown=token",
            ],
            &mut known,
        );
        assert_eq!(known.len(), 5);
        assert_eq!(
            top_reasons(&m, &mut known, 3),
            "Authority: economic buyer (raises); Industry: Software (raises); \
             Channel: Paid Search (lowers)"
        );
        assert_eq!(top_reasons(&m, &mut known, 0), "");
        // Zero weights are never reasons, even when n asks for more.
        assert_eq!(top_reasons(&m, &mut known, 10).matches("; ").count(), 3);
    }

    #[test]
    fn ties_break_by_token() {
        let m = model(&[("b=1", 0.5), ("a=1", -0.5)]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.known(["b=1", "a=1"], &mut a);
        m.known(["a=1", "b=1", "a=1"], &mut b);
        assert_eq!(top_reasons(&m, &mut a, 1), "A: 1 (lowers)");
        assert_eq!(top_reasons(&m, &mut b, 1), "A: 1 (lowers)");
        assert_eq!(b.len(), 2, "a token listed twice counts once");
    }
}
