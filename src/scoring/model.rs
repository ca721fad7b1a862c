//! The model as a JSON string: what `logistic_fit` returns and the scalar functions read.
//!
//! ```json
//! {"version":"lr-1a2b3c4d5e6f","intercept":-2.1,"weights":{"authority=economic_buyer":1.3,...},
//!  "rows":120000,"positives":9000,"l2":1.0,"min_count":5}
//! ```
//!
//! `weights` is sorted by token and numbers are printed in their shortest round-trip form, so the
//! text is canonical: the same coefficients always give the same bytes. `version` is `lr-` and the
//! first 12 hex digits of the xxh3-64 hash of that canonical text without the version, so equal
//! models have equal versions and any change of data, settings or code that moves a coefficient
//! gives a new one. Readers ignore keys they do not know (room for later additions).

use super::reasons;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Everything a model string holds, in the order it is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub intercept: f64,
    #[serde(serialize_with = "ordered_map")]
    pub weights: Vec<(String, f64)>,
    pub rows: u64,
    pub positives: u64,
    pub l2: f64,
    pub min_count: u64,
}

/// Serialises (key, value) pairs as a JSON object in the given order.
pub(crate) fn ordered_map<S, W, K>(weights: &W, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    W: AsRef<[(K, f64)]> + ?Sized,
    K: Serialize,
{
    let weights = weights.as_ref();
    let mut map = s.serialize_map(Some(weights.len()))?;
    for (k, v) in weights {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

#[derive(Serialize)]
struct Versioned<'a> {
    version: &'a str,
    #[serde(flatten)]
    spec: &'a ModelSpec,
}

impl ModelSpec {
    /// The canonical JSON with its version. Weights are sorted here; non-finite numbers are
    /// refused (JSON cannot hold them and a model with them would score nonsense).
    pub fn to_json(&self) -> Result<String, String> {
        let mut spec = self.clone();
        spec.weights.sort_by(|a, b| a.0.cmp(&b.0));
        let bad = spec
            .weights
            .iter()
            .find(|(_, w)| !w.is_finite())
            .map(|(t, _)| t.clone())
            .or_else(|| (!spec.intercept.is_finite()).then(|| "intercept".to_string()))
            .or_else(|| (!spec.l2.is_finite()).then(|| "l2".to_string()));
        if let Some(name) = bad {
            return Err(format!(
                "the fit produced a non-finite coefficient for {name}"
            ));
        }
        let canonical = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        let hash = xxhash_rust::xxh3::xxh3_64(canonical.as_bytes());
        let version = format!("lr-{:012x}", hash >> 16);
        serde_json::to_string(&Versioned {
            version: &version,
            spec: &spec,
        })
        .map_err(|e| e.to_string())
    }
}

/// A parsed model, ready to score rows.
#[derive(Debug, Clone)]
pub struct Model {
    pub version: Option<String>,
    pub intercept: f64,
    pub weights: HashMap<String, f64>,
    /// The weighted tokens as scoring reads them, sorted by token (a row's sums and reasons
    /// follow token order, so they do not depend on the order of the row's list), each with its
    /// reason text; a row's tokens are their positions here (ranks), found by a fast hash: no
    /// string comparisons for 10M leads x 12 tokens x 3 functions per run.
    ranked: Vec<KnownToken>,
    ranks: TokenMap<Box<str>, u32>,
}

type TokenMap<K, V> = hashbrown::HashMap<K, V, Xxh3DefaultBuilder>;

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.intercept == other.intercept
            && self.weights == other.weights
    }
}

/// A token the model weighs.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownToken {
    pub token: Box<str>,
    pub weight: f64,
    /// `Key: value (raises)` / `(lowers)`.
    pub reason: Box<str>,
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(default)]
    version: Option<String>,
    intercept: f64,
    #[serde(default)]
    weights: HashMap<String, f64>,
}

impl Model {
    /// Parses a model string; the error says what is wrong, for the SQL author.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: ModelJson = serde_json::from_str(text).map_err(|e| {
            let head: String = text.chars().take(60).collect();
            format!("not a logistic_fit model ({e}): '{head}'")
        })?;
        if !raw.intercept.is_finite() {
            return Err("model intercept is not a finite number".into());
        }
        let mut sorted: Vec<(&String, f64)> = raw.weights.iter().map(|(t, w)| (t, *w)).collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut ranks = TokenMap::with_capacity_and_hasher(sorted.len(), Xxh3DefaultBuilder);
        let mut ranked = Vec::with_capacity(sorted.len());
        for (rank, (token, weight)) in sorted.into_iter().enumerate() {
            let rank = u32::try_from(rank).map_err(|_| "too many tokens in the model")?;
            ranks.insert(token.as_str().into(), rank);
            ranked.push(KnownToken {
                token: token.as_str().into(),
                weight,
                reason: reasons::reason(token, weight).into(),
            });
        }
        Ok(Self {
            version: raw.version,
            intercept: raw.intercept,
            weights: raw.weights,
            ranked,
            ranks,
        })
    }

    /// The ranks of the row's tokens the model weighs, de-duplicated, in token order. Unknown
    /// tokens are left out.
    pub fn known<'t>(&self, tokens: impl IntoIterator<Item = &'t str>, out: &mut Vec<u32>) {
        out.clear();
        out.extend(
            tokens
                .into_iter()
                .filter_map(|t| self.ranks.get(t).copied()),
        );
        out.sort_unstable();
        out.dedup();
    }

    /// The rank of `token`, `None` when the model does not weigh it.
    pub fn rank(&self, token: &str) -> Option<u32> {
        self.ranks.get(token).copied()
    }

    /// The token of rank `rank` (one [`Self::known`] returned).
    pub fn token(&self, rank: u32) -> &KnownToken {
        &self.ranked[rank as usize]
    }

    /// The log-odds of a row whose known tokens are `known` (from [`Self::known`]), summed in
    /// token order.
    pub fn logit_of(&self, known: &[u32]) -> f64 {
        known
            .iter()
            .fold(self.intercept, |acc, &r| acc + self.token(r).weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            intercept: -1.5,
            weights: vec![("b=2".into(), -0.25), ("a=1".into(), 0.5)],
            rows: 10,
            positives: 3,
            l2: 1.0,
            min_count: 5,
        }
    }

    #[test]
    fn json_is_canonical_and_versioned() {
        let json = spec().to_json().unwrap();
        assert!(json.starts_with(r#"{"version":"lr-"#), "{json}");
        assert!(
            json.contains(r#""weights":{"a=1":0.5,"b=2":-0.25}"#),
            "{json}"
        );
        let version = &json[12..27];
        assert_eq!(version.len(), 15);
        assert!(version[3..].chars().all(|c| c.is_ascii_hexdigit()));
        // Same model, same bytes; another coefficient, another version.
        assert_eq!(json, spec().to_json().unwrap());
        let mut other = spec();
        other.intercept = -1.4;
        assert_ne!(&other.to_json().unwrap()[12..27], version);
    }

    #[test]
    fn round_trip_and_scoring() {
        let m = Model::parse(&spec().to_json().unwrap()).unwrap();
        assert_eq!(m.intercept, -1.5);
        let mut known = Vec::new();
        m.known(["a=1", "zzz", "a=1", "b=2"], &mut known);
        let pairs: Vec<(&str, f64)> = known
            .iter()
            .map(|&r| (&*m.token(r).token, m.token(r).weight))
            .collect();
        assert_eq!(pairs, vec![("a=1", 0.5), ("b=2", -0.25)]);
        assert_eq!(m.logit_of(&known), -1.25);
        assert_eq!(m.rank("b=2"), Some(1));
        assert_eq!(m.rank("zzz"), None);
        assert_eq!(&*m.token(1).reason, "B: 2 (lowers)");
    }

    #[test]
    fn bad_models_are_errors() {
        assert!(Model::parse("not json").is_err());
        assert!(Model::parse("{}").is_err());
        assert!(Model::parse(r#"{"intercept":"x"}"#).is_err());
        assert!(Model::parse(r#"{"intercept":0,"weights":{"a":"b"}}"#).is_err());
        // Minimal valid model: intercept only.
        assert!(Model::parse(r#"{"intercept":0}"#).is_ok());
        let mut bad = spec();
        bad.weights[0].1 = f64::NAN;
        assert!(bad.to_json().is_err());
    }
}
