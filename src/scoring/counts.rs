//! The training data of a one-hot logistic regression, reduced to what the fit needs: for every
//! distinct set of feature tokens (a *pattern*), how many labelled rows had it and how many of them
//! were positive.
//!
//! With one-hot features the likelihood depends on a row only through its pattern and its label,
//! so these counts are sufficient: fitting on them gives exactly the model a fit on the raw rows
//! would. They are also order-independent (integer counts per key) and mergeable (add the counts of
//! two partial states), which is what makes [`super::udf::LogisticFit`] a well-behaved aggregate:
//! any partitioning of the same rows ends in the same counts, and [`PatternCounts::finish`] turns
//! them into a canonical, sorted [`Design`] so the fit itself sees identical input every time.
//!
//! Size: one entry per distinct pattern (at most one per row, far fewer when the features are
//! categorical with modest cardinality), each a boxed slice of `u32` token ids plus two counters.

use super::logistic::Design;
use std::collections::HashMap;
use std::mem::size_of;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

type FastMap<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

/// Rows and positive rows seen with one pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub positives: u64,
}

/// Errors of the accumulation (only malformed partial states can cause them).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CountsError {
    #[error("more than {} distinct feature tokens", u32::MAX)]
    TooManyTokens,
    #[error("corrupt partial state: {0}")]
    CorruptState(String),
    #[error("row count overflow")]
    Overflow,
}

/// Counts per distinct pattern, with a local dictionary of token strings.
///
/// Token ids are local to one instance (assigned in arrival order); nothing order-dependent leaks
/// out because [`Self::finish`] re-numbers tokens by their string and sorts the patterns.
#[derive(Debug, Default)]
pub struct PatternCounts {
    tokens: Vec<Box<str>>,
    token_ids: FastMap<Box<str>, u32>,
    patterns: FastMap<Box<[u32]>, Counts>,
    token_bytes: usize,
    pattern_ids: usize,
    rows: u64,
    positives: u64,
    scratch: Vec<u32>,
}

/// A partial state laid out flat (the shape of the aggregate's state columns), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct StateParts<'a> {
    pub tokens: &'a [&'a str],
    pub ids: &'a [u32],
    pub lens: &'a [u32],
    pub rows: &'a [u64],
    pub positives: &'a [u64],
}

/// A partial state laid out flat, owned (what [`PatternCounts::to_flat`] returns).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlatState<'a> {
    /// The token dictionary: id `i` is `tokens[i]`.
    pub tokens: Vec<&'a str>,
    /// The token ids of every pattern, concatenated.
    pub ids: Vec<u32>,
    /// How many ids each pattern has (so `ids` can be cut back into patterns).
    pub lens: Vec<u32>,
    pub rows: Vec<u64>,
    pub positives: Vec<u64>,
}

#[cfg(test)]
impl FlatState<'_> {
    pub fn parts(&self) -> StateParts<'_> {
        StateParts {
            tokens: &self.tokens,
            ids: &self.ids,
            lens: &self.lens,
            rows: &self.rows,
            positives: &self.positives,
        }
    }
}

impl PatternCounts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Labelled rows seen so far.
    #[cfg(test)]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Positive rows seen so far.
    #[cfg(test)]
    pub fn positives(&self) -> u64 {
        self.positives
    }

    /// Distinct patterns held.
    #[cfg(test)]
    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }

    fn token_id(&mut self, token: &str) -> Result<u32, CountsError> {
        if let Some(id) = self.token_ids.get(token) {
            return Ok(*id);
        }
        let id = u32::try_from(self.tokens.len()).map_err(|_| CountsError::TooManyTokens)?;
        self.tokens.push(token.into());
        self.token_ids.insert(token.into(), id);
        self.token_bytes += token.len();
        Ok(id)
    }

    /// Adds one labelled row. Duplicate tokens count once (features are presence indicators).
    pub fn add_row<'t>(
        &mut self,
        tokens: impl IntoIterator<Item = &'t str>,
        positive: bool,
    ) -> Result<(), CountsError> {
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        for token in tokens {
            ids.push(self.token_id(token)?);
        }
        let counts = Counts {
            rows: 1,
            positives: u64::from(positive),
        };
        let result = self.add_ids(&mut ids, counts);
        self.scratch = ids;
        result
    }

    /// Adds `counts` to the pattern made of `ids` (local ids; sorted and de-duplicated here).
    fn add_ids(&mut self, ids: &mut Vec<u32>, counts: Counts) -> Result<(), CountsError> {
        ids.sort_unstable();
        ids.dedup();
        self.rows = self
            .rows
            .checked_add(counts.rows)
            .ok_or(CountsError::Overflow)?;
        self.positives = self
            .positives
            .checked_add(counts.positives)
            .ok_or(CountsError::Overflow)?;
        if let Some(c) = self.patterns.get_mut(ids.as_slice()) {
            c.rows = c
                .rows
                .checked_add(counts.rows)
                .ok_or(CountsError::Overflow)?;
            c.positives = c
                .positives
                .checked_add(counts.positives)
                .ok_or(CountsError::Overflow)?;
        } else {
            self.pattern_ids += ids.len();
            self.patterns.insert(ids.as_slice().into(), counts);
        }
        Ok(())
    }

    /// The state in flat form, for [`Self::merge_flat`] in another instance.
    pub fn to_flat(&self) -> FlatState<'_> {
        let mut flat = FlatState {
            tokens: self.tokens.iter().map(|t| &**t).collect(),
            ids: Vec::with_capacity(self.pattern_ids),
            lens: Vec::with_capacity(self.patterns.len()),
            rows: Vec::with_capacity(self.patterns.len()),
            positives: Vec::with_capacity(self.patterns.len()),
        };
        for (pattern, counts) in &self.patterns {
            flat.ids.extend_from_slice(pattern);
            // A pattern holds distinct u32 ids of a dictionary indexed by u32, so its length
            // fits in u32; saturate rather than panic all the same.
            flat.lens
                .push(u32::try_from(pattern.len()).unwrap_or(u32::MAX));
            flat.rows.push(counts.rows);
            flat.positives.push(counts.positives);
        }
        flat
    }

    /// Adds a partial state made by [`Self::to_flat`] (possibly in another process).
    pub fn merge_flat(&mut self, state: StateParts<'_>) -> Result<(), CountsError> {
        let n = state.lens.len();
        if state.rows.len() != n || state.positives.len() != n {
            return Err(CountsError::CorruptState(format!(
                "{n} patterns but {} row counts and {} positive counts",
                state.rows.len(),
                state.positives.len()
            )));
        }
        let total: u64 = state.lens.iter().map(|l| u64::from(*l)).sum();
        if total != state.ids.len() as u64 {
            return Err(CountsError::CorruptState(format!(
                "pattern lengths add up to {total} but {} token ids are present",
                state.ids.len()
            )));
        }
        let local = state
            .tokens
            .iter()
            .map(|t| self.token_id(t))
            .collect::<Result<Vec<u32>, _>>()?;
        let mut ids = Vec::new();
        let mut start = 0usize;
        for i in 0..n {
            let end = start + state.lens[i] as usize;
            ids.clear();
            for &id in &state.ids[start..end] {
                let mapped = local.get(id as usize).ok_or_else(|| {
                    CountsError::CorruptState(format!(
                        "token id {id} outside a dictionary of {} tokens",
                        local.len()
                    ))
                })?;
                ids.push(*mapped);
            }
            start = end;
            let counts = Counts {
                rows: state.rows[i],
                positives: state.positives[i],
            };
            if counts.positives > counts.rows {
                return Err(CountsError::CorruptState(format!(
                    "{} positives out of {} rows",
                    counts.positives, counts.rows
                )));
            }
            if counts.rows > 0 {
                self.add_ids(&mut ids, counts)?;
            }
        }
        Ok(())
    }

    /// Approximate heap bytes held (reported to DataFusion's memory accounting).
    pub fn size(&self) -> usize {
        let entry_overhead = 16; // allocator bookkeeping per boxed key
        size_of::<Self>()
            + self.tokens.capacity() * size_of::<Box<str>>()
            + 2 * (self.token_bytes + self.tokens.len() * entry_overhead)
            + self.token_ids.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
            + self.patterns.capacity() * (size_of::<Box<[u32]>>() + size_of::<Counts>() + 1)
            + self.pattern_ids * size_of::<u32>()
            + self.patterns.len() * entry_overhead
            + self.scratch.capacity() * size_of::<u32>()
    }

    /// The canonical design: tokens kept (seen in at least `min_count` labelled rows; of those the
    /// `max_tokens` most frequent, ties by name) numbered in string order, patterns re-written in
    /// those ids with dropped tokens removed, identical patterns merged, sorted.
    ///
    /// The result depends only on the multiset of rows added, never on arrival order or on how the
    /// rows were split between partial states.
    pub fn finish(&self, min_count: u64, max_tokens: usize) -> Design {
        let mut frequency = vec![0u64; self.tokens.len()];
        for (pattern, counts) in &self.patterns {
            for &id in pattern.iter() {
                frequency[id as usize] += counts.rows;
            }
        }
        let mut candidates: Vec<u32> = (0..self.tokens.len())
            .filter(|&i| frequency[i] >= min_count.max(1))
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        if candidates.len() > max_tokens {
            candidates.sort_unstable_by(|&a, &b| {
                frequency[b as usize]
                    .cmp(&frequency[a as usize])
                    .then_with(|| self.tokens[a as usize].cmp(&self.tokens[b as usize]))
            });
            candidates.truncate(max_tokens);
        }
        candidates.sort_unstable_by(|&a, &b| self.tokens[a as usize].cmp(&self.tokens[b as usize]));

        let mut remap: Vec<Option<u32>> = vec![None; self.tokens.len()];
        for (global, &local) in candidates.iter().enumerate() {
            remap[local as usize] = u32::try_from(global).ok();
        }
        let tokens: Vec<String> = candidates
            .iter()
            .map(|&i| self.tokens[i as usize].to_string())
            .collect();

        // Rewrite every pattern into one flat buffer (no allocation per pattern), then sort
        // spans of it: identical patterns become adjacent and are merged.
        let mut flat: Vec<u32> = Vec::with_capacity(self.pattern_ids);
        let mut spans: Vec<(usize, usize, Counts)> = Vec::with_capacity(self.patterns.len());
        for (pattern, counts) in &self.patterns {
            let start = flat.len();
            flat.extend(pattern.iter().filter_map(|&id| remap[id as usize]));
            flat[start..].sort_unstable();
            spans.push((start, flat.len(), *counts));
        }
        spans.sort_unstable_by(|a, b| flat[a.0..a.1].cmp(&flat[b.0..b.1]));

        let mut design = Design::new(tokens);
        let mut i = 0;
        while i < spans.len() {
            let (start, end, mut counts) = spans[i];
            let key = &flat[start..end];
            i += 1;
            while i < spans.len() && flat[spans[i].0..spans[i].1] == *key {
                counts.rows += spans[i].2.rows;
                counts.positives += spans[i].2.positives;
                i += 1;
            }
            design.push(key, counts.rows, counts.positives);
        }
        design
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<(Vec<&'static str>, bool)> {
        vec![
            (vec!["b=1", "a=1"], true),
            (vec!["a=1", "b=1", "a=1"], false),
            (vec![], false),
            (vec!["c=1"], true),
            (vec!["a=1"], true),
            (vec!["b=1", "a=1"], true),
        ]
    }

    #[test]
    fn counts_per_pattern_ignore_order_and_duplicates() {
        let mut c = PatternCounts::new();
        for (tokens, y) in rows() {
            c.add_row(tokens, y).unwrap();
        }
        assert_eq!(c.rows(), 6);
        assert_eq!(c.positives(), 4);
        assert_eq!(c.patterns(), 4);
        let d = c.finish(1, 100);
        assert_eq!(d.tokens, vec!["a=1", "b=1", "c=1"]);
        assert_eq!(d.patterns(), 4);
        // The {a, b} pattern: 3 rows, 2 positive.
        let ab = (0..d.patterns()).find(|&p| d.pattern(p) == [0, 1]).unwrap();
        assert_eq!((d.rows[ab], d.positives[ab]), (3.0, 2.0));
    }

    #[test]
    fn rare_tokens_are_dropped_and_patterns_merged() {
        let mut c = PatternCounts::new();
        for (tokens, y) in rows() {
            c.add_row(tokens, y).unwrap();
        }
        // c=1 is seen once: dropped with min_count 2, so {c} merges into the empty pattern.
        let d = c.finish(2, 100);
        assert_eq!(d.tokens, vec!["a=1", "b=1"]);
        let empty = (0..d.patterns())
            .find(|&p| d.pattern(p).is_empty())
            .unwrap();
        assert_eq!((d.rows[empty], d.positives[empty]), (2.0, 1.0));
        // Cap: only the most frequent token survives (a=1 in 4 rows, b=1 in 3).
        let d = c.finish(1, 1);
        assert_eq!(d.tokens, vec!["a=1"]);
    }

    #[test]
    fn merge_of_flat_states_equals_one_pass() {
        let all = rows();
        let mut one = PatternCounts::new();
        for (tokens, y) in all.clone() {
            one.add_row(tokens, y).unwrap();
        }
        let mut left = PatternCounts::new();
        let mut right = PatternCounts::new();
        for (i, (tokens, y)) in all.into_iter().enumerate() {
            if i % 2 == 0 { &mut left } else { &mut right }
                .add_row(tokens, y)
                .unwrap();
        }
        let mut merged = PatternCounts::new();
        merged.merge_flat(right.to_flat().parts()).unwrap();
        merged.merge_flat(left.to_flat().parts()).unwrap();
        assert_eq!(merged.finish(1, 10), one.finish(1, 10));
    }

    #[test]
    fn corrupt_states_are_errors() {
        let mut c = PatternCounts::new();
        let bad_id = FlatState {
            tokens: vec!["a"],
            ids: vec![3],
            lens: vec![1],
            rows: vec![1],
            positives: vec![0],
        };
        assert!(matches!(
            c.merge_flat(bad_id.parts()),
            Err(CountsError::CorruptState(_))
        ));
        let bad_len = FlatState {
            lens: vec![2],
            ..bad_id.clone()
        };
        assert!(c.merge_flat(bad_len.parts()).is_err());
        let bad_counts = FlatState {
            ids: vec![0],
            positives: vec![2],
            ..bad_id
        };
        assert!(c.merge_flat(bad_counts.parts()).is_err());
    }
}
