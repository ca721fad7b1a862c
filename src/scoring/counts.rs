//! The training data of a one-hot logistic regression, reduced to what the fit needs: for every
//! distinct set of feature tokens (a *pattern*), how many labelled rows had it and how many of them
//! were positive.
//!
//! With one-hot features the likelihood depends on a row only through its pattern and its label,
//! so these counts are sufficient: fitting on them gives exactly the model a fit on the raw rows
//! would. They are also order-independent (integer counts per key) and mergeable (add the counts of
//! two partial states), which is what makes [`super::udf::LogisticFit`] a well-behaved aggregate:
//! any partitioning of the same rows ends in the same counts, and [`PatternCounts::into_design`]
//! turns them into a canonical, sorted [`Design`] so the fit itself sees identical input every time.
//!
//! Size: one entry per distinct pattern (at most one per row, far fewer when the features are
//! categorical with modest cardinality). The patterns live in one arena of `u32` token ids (no
//! allocation per pattern) with their end offsets and counters in parallel vectors, and the hash
//! index holds only a pattern's number: about 4 bytes per token plus 37 per pattern (at 10M leads,
//! 5.7M patterns of 12 tokens: 0.5 GB, where a map of boxed keys took 0.9 GB). The two ways out
//! hand that memory over instead of copying it: [`PatternCounts::take_state`] (a partial state,
//! moved into Arrow arrays) and [`PatternCounts::into_design`] (re-written in place).

use super::logistic::Design;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;
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
    #[error("more than {} distinct feature patterns", u32::MAX)]
    TooManyPatterns,
    #[error("corrupt partial state: {0}")]
    CorruptState(String),
    #[error("row count overflow")]
    Overflow,
}

/// Counts per distinct pattern, with a local dictionary of token strings.
///
/// Token ids are local to one instance (assigned in arrival order); nothing order-dependent leaks
/// out because [`Self::into_design`] re-numbers tokens by their string and sorts the patterns.
#[derive(Debug, Default)]
pub struct PatternCounts {
    tokens: Vec<Box<str>>,
    token_ids: FastMap<Box<str>, u32>,
    token_bytes: usize,
    /// Every pattern's token ids (sorted, distinct), concatenated: pattern `i` is
    /// `ids[ends[i - 1]..ends[i]]` (from 0 for the first).
    ids: Vec<u32>,
    ends: Vec<usize>,
    /// Rows and positive rows of pattern `i`.
    pattern_rows: Vec<u64>,
    pattern_positives: Vec<u64>,
    /// Pattern numbers, found by their ids' hash ([`hash_ids`]).
    index: HashTable<u32>,
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

/// A partial state laid out flat, owned (what [`PatternCounts::take_state`] returns).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlatState {
    /// The token dictionary: id `i` is `tokens[i]`.
    pub tokens: Vec<Box<str>>,
    /// The token ids of every pattern, concatenated.
    pub ids: Vec<u32>,
    /// How many ids each pattern has (so `ids` can be cut back into patterns).
    pub lens: Vec<u32>,
    pub rows: Vec<u64>,
    pub positives: Vec<u64>,
}

#[cfg(test)]
impl FlatState {
    /// The state as [`StateParts`], given its tokens as `&str` (`self.token_refs()`).
    pub fn parts<'a>(&'a self, tokens: &'a [&'a str]) -> StateParts<'a> {
        StateParts {
            tokens,
            ids: &self.ids,
            lens: &self.lens,
            rows: &self.rows,
            positives: &self.positives,
        }
    }

    pub fn token_refs(&self) -> Vec<&str> {
        self.tokens.iter().map(|t| &**t).collect()
    }
}

/// The hash of a pattern's ids.
fn hash_ids(ids: &[u32]) -> u64 {
    Xxh3DefaultBuilder.hash_one(ids)
}

/// Pattern `i` of an arena of ids cut at `ends`.
fn span<'a>(ids: &'a [u32], ends: &[usize], i: usize) -> &'a [u32] {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &ids[start..ends[i]]
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

    /// Patterns held (distinct, unless merged from several partial states).
    #[cfg(test)]
    pub fn patterns(&self) -> usize {
        self.ends.len()
    }

    /// The local id of `token`, assigned on first sight.
    pub fn token_id(&mut self, token: &str) -> Result<u32, CountsError> {
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

    /// Adds one labelled row given as local token ids ([`Self::token_id`]); `ids` is sorted and
    /// de-duplicated in place.
    pub fn add_row_ids(&mut self, ids: &mut Vec<u32>, positive: bool) -> Result<(), CountsError> {
        let counts = Counts {
            rows: 1,
            positives: u64::from(positive),
        };
        self.add_ids(ids, counts)
    }

    /// Adds `counts` to the totals of all rows.
    fn add_totals(&mut self, counts: Counts) -> Result<(), CountsError> {
        self.rows = self
            .rows
            .checked_add(counts.rows)
            .ok_or(CountsError::Overflow)?;
        self.positives = self
            .positives
            .checked_add(counts.positives)
            .ok_or(CountsError::Overflow)?;
        Ok(())
    }

    /// Ends a new pattern at the arena's end, with `counts`; its number.
    fn close_pattern(&mut self, counts: Counts) -> Result<u32, CountsError> {
        let p = u32::try_from(self.ends.len()).map_err(|_| CountsError::TooManyPatterns)?;
        self.ends.push(self.ids.len());
        self.pattern_rows.push(counts.rows);
        self.pattern_positives.push(counts.positives);
        Ok(p)
    }

    /// Adds `counts` to the pattern made of `ids` (local ids; sorted and de-duplicated here).
    fn add_ids(&mut self, ids: &mut Vec<u32>, counts: Counts) -> Result<(), CountsError> {
        ids.sort_unstable();
        ids.dedup();
        self.add_totals(counts)?;
        let key = ids.as_slice();
        let hash = hash_ids(key);
        let (arena, ends) = (&self.ids, &self.ends);
        if let Some(&p) = self
            .index
            .find(hash, |&p| span(arena, ends, p as usize) == key)
        {
            let p = p as usize;
            self.pattern_rows[p] = self.pattern_rows[p]
                .checked_add(counts.rows)
                .ok_or(CountsError::Overflow)?;
            self.pattern_positives[p] = self.pattern_positives[p]
                .checked_add(counts.positives)
                .ok_or(CountsError::Overflow)?;
            return Ok(());
        }
        self.ids.extend_from_slice(key);
        let p = self.close_pattern(counts)?;
        let (arena, ends) = (&self.ids, &self.ends);
        self.index
            .insert_unique(hash, p, |&q| hash_ids(span(arena, ends, q as usize)));
        Ok(())
    }

    /// The state in flat form, for [`Self::merge_flat`] in another instance. Hands the counts
    /// over: this instance is empty afterwards (a partial aggregation's state is taken once, at
    /// its end, and moving the arena saves a copy of it).
    pub fn take_state(&mut self) -> FlatState {
        let taken = std::mem::take(self);
        let mut start = 0usize;
        let lens = taken
            .ends
            .iter()
            .map(|&end| {
                // A pattern holds distinct u32 ids of a dictionary indexed by u32, so its length
                // fits in u32; saturate rather than panic all the same.
                let len = u32::try_from(end - start).unwrap_or(u32::MAX);
                start = end;
                len
            })
            .collect();
        FlatState {
            tokens: taken.tokens,
            ids: taken.ids,
            lens,
            rows: taken.pattern_rows,
            positives: taken.pattern_positives,
        }
    }

    /// Adds a partial state made by [`Self::take_state`] (possibly in another process).
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
        // The patterns are appended, not looked up: a pattern in several states is listed once
        // per state here and merged by `into_design`'s sort (at 10M leads, hashing the 8M
        // patterns of two partial states again took seconds). The index does not know them: a
        // row added afterwards may list one of them again, which `into_design` merges as well.
        self.ids.reserve(state.ids.len());
        let mut start = 0usize;
        for i in 0..n {
            let end = start + state.lens[i] as usize;
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
            let from = self.ids.len();
            for &id in &state.ids[start..end] {
                let mapped = local.get(id as usize).ok_or_else(|| {
                    CountsError::CorruptState(format!(
                        "token id {id} outside a dictionary of {} tokens",
                        local.len()
                    ))
                })?;
                self.ids.push(*mapped);
            }
            start = end;
            if counts.rows == 0 {
                self.ids.truncate(from);
                continue;
            }
            self.ids[from..].sort_unstable();
            self.add_totals(counts)?;
            self.close_pattern(counts)?;
        }
        Ok(())
    }

    /// Approximate heap bytes held (reported to DataFusion's memory accounting).
    pub fn size(&self) -> usize {
        let entry_overhead = 16; // allocator bookkeeping per boxed token string
        size_of::<Self>()
            + self.tokens.capacity() * size_of::<Box<str>>()
            + 2 * (self.token_bytes + self.tokens.len() * entry_overhead)
            + self.token_ids.capacity() * (size_of::<Box<str>>() + size_of::<u32>() + 1)
            + self.ids.capacity() * size_of::<u32>()
            + self.ends.capacity() * size_of::<usize>()
            + (self.pattern_rows.capacity() + self.pattern_positives.capacity()) * size_of::<u64>()
            // buckets of a table at its 7/8 maximum load, one control byte each
            + self.index.capacity() * (size_of::<u32>() + 1) * 8 / 7
            + self.scratch.capacity() * size_of::<u32>()
    }

    /// The canonical design: tokens kept (seen in at least `min_count` labelled rows; of those the
    /// `max_tokens` most frequent, ties by name) numbered in string order, patterns re-written in
    /// those ids with dropped tokens removed, identical patterns merged, in the order of their
    /// ids' hash (then the ids).
    ///
    /// The result depends only on the multiset of rows added, never on arrival order or on how the
    /// rows were split between partial states. Consumes the counts: the patterns are re-written in
    /// their own arena, and the hash index is freed before the design is built.
    pub fn into_design(self, min_count: u64, max_tokens: usize) -> Design {
        let Self {
            tokens: names,
            mut ids,
            mut ends,
            pattern_rows,
            pattern_positives,
            index,
            token_ids,
            ..
        } = self;
        drop((index, token_ids));
        let patterns = ends.len();

        let mut frequency = vec![0u64; names.len()];
        for (p, &rows) in pattern_rows.iter().enumerate() {
            for &id in span(&ids, &ends, p) {
                frequency[id as usize] += rows;
            }
        }
        let mut candidates: Vec<u32> = (0..names.len())
            .filter(|&i| frequency[i] >= min_count.max(1))
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        if candidates.len() > max_tokens {
            candidates.sort_unstable_by(|&a, &b| {
                frequency[b as usize]
                    .cmp(&frequency[a as usize])
                    .then_with(|| names[a as usize].cmp(&names[b as usize]))
            });
            candidates.truncate(max_tokens);
        }
        candidates.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));

        let mut remap: Vec<Option<u32>> = vec![None; names.len()];
        for (global, &local) in candidates.iter().enumerate() {
            remap[local as usize] = u32::try_from(global).ok();
        }
        let tokens: Vec<String> = candidates
            .iter()
            .map(|&i| names[i as usize].to_string())
            .collect();
        drop(names);

        // Re-write every pattern in the kept tokens' ids, in place (a pattern never grows, so the
        // write position never passes the read position), each sorted in its new ids.
        let mut write = 0usize;
        let mut start = 0usize;
        for end in ends.iter_mut() {
            let from = write;
            for read in start..*end {
                if let Some(global) = remap[ids[read] as usize] {
                    ids[write] = global;
                    write += 1;
                }
            }
            ids[from..write].sort_unstable();
            start = *end;
            *end = write;
        }
        ids.truncate(write);

        // Sort the patterns by the hash of their new ids, then by the ids (only where hashes are
        // equal): identical patterns become adjacent and are merged, and the order is a function
        // of the patterns alone. Sorting 64-bit keys side by side instead of comparing id lists
        // through the arena took the 10M-lead fit's sort from a fifth of its time to little.
        let mut order: Vec<(u64, u32)> = (0..patterns)
            .filter_map(|p| Some((hash_ids(span(&ids, &ends, p)), u32::try_from(p).ok()?)))
            .collect();
        order.sort_unstable_by(|&(ha, a), &(hb, b)| {
            ha.cmp(&hb)
                .then_with(|| span(&ids, &ends, a as usize).cmp(span(&ids, &ends, b as usize)))
        });

        let mut design = Design::new(tokens);
        let mut i = 0;
        while i < order.len() {
            let (hash, first) = (order[i].0, order[i].1 as usize);
            let key = span(&ids, &ends, first);
            let mut counts = Counts {
                rows: pattern_rows[first],
                positives: pattern_positives[first],
            };
            i += 1;
            while i < order.len()
                && order[i].0 == hash
                && span(&ids, &ends, order[i].1 as usize) == key
            {
                counts.rows += pattern_rows[order[i].1 as usize];
                counts.positives += pattern_positives[order[i].1 as usize];
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

    fn counted() -> PatternCounts {
        let mut c = PatternCounts::new();
        for (tokens, y) in rows() {
            c.add_row(tokens, y).unwrap();
        }
        c
    }

    #[test]
    fn counts_per_pattern_ignore_order_and_duplicates() {
        let c = counted();
        assert_eq!(c.rows(), 6);
        assert_eq!(c.positives(), 4);
        assert_eq!(c.patterns(), 4);
        let d = c.into_design(1, 100);
        assert_eq!(d.tokens, vec!["a=1", "b=1", "c=1"]);
        assert_eq!(d.patterns(), 4);
        // The {a, b} pattern: 3 rows, 2 positive.
        let ab = (0..d.patterns()).find(|&p| d.pattern(p) == [0, 1]).unwrap();
        assert_eq!((d.rows[ab], d.positives[ab]), (3.0, 2.0));
    }

    #[test]
    fn rare_tokens_are_dropped_and_patterns_merged() {
        // c=1 is seen once: dropped with min_count 2, so {c} merges into the empty pattern.
        let d = counted().into_design(2, 100);
        assert_eq!(d.tokens, vec!["a=1", "b=1"]);
        let empty = (0..d.patterns())
            .find(|&p| d.pattern(p).is_empty())
            .unwrap();
        assert_eq!((d.rows[empty], d.positives[empty]), (2.0, 1.0));
        // Cap: only the most frequent token survives (a=1 in 4 rows, b=1 in 3).
        let d = counted().into_design(1, 1);
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
        for part in [&mut right, &mut left] {
            let state = part.take_state();
            merged.merge_flat(state.parts(&state.token_refs())).unwrap();
            // the state was handed over
            assert_eq!((part.patterns(), part.rows()), (0, 0));
        }
        assert_eq!(merged.into_design(1, 10), one.into_design(1, 10));
    }

    #[test]
    fn many_patterns_are_found_again_and_merged_in_any_order() {
        // Enough patterns to grow the index many times; each added twice, in two orders.
        let pattern = |i: u32| -> Vec<String> {
            (0..(i % 7))
                .map(|j| format!("t{}", (i * 31 + j * 17) % 500))
                .collect()
        };
        let mut forward = PatternCounts::new();
        let mut backward = PatternCounts::new();
        for round in 0..2 {
            for i in 0..5000u32 {
                let tokens = pattern(i);
                forward
                    .add_row(tokens.iter().map(String::as_str), (i + round) % 3 == 0)
                    .unwrap();
            }
            for i in (0..5000u32).rev() {
                let tokens = pattern(i);
                backward
                    .add_row(
                        tokens.iter().rev().map(String::as_str),
                        (i + round) % 3 == 0,
                    )
                    .unwrap();
            }
        }
        assert_eq!(forward.rows(), 10_000);
        assert_eq!(forward.patterns(), backward.patterns());
        let distinct: std::collections::HashSet<Vec<String>> = (0..5000u32)
            .map(|i| {
                let mut p = pattern(i);
                p.sort();
                p.dedup();
                p
            })
            .collect();
        assert_eq!(forward.patterns(), distinct.len());
        let (f, b) = (forward.into_design(1, 1000), backward.into_design(1, 1000));
        assert_eq!(f, b);
        assert_eq!(f.total_rows, 10_000);
        assert_eq!(f.patterns(), distinct.len());
    }

    #[test]
    fn corrupt_states_are_errors() {
        let mut c = PatternCounts::new();
        let bad_id = FlatState {
            tokens: vec!["a".into()],
            ids: vec![3],
            lens: vec![1],
            rows: vec![1],
            positives: vec![0],
        };
        assert!(matches!(
            c.merge_flat(bad_id.parts(&["a"])),
            Err(CountsError::CorruptState(_))
        ));
        let bad_len = FlatState {
            lens: vec![2],
            ..bad_id.clone()
        };
        assert!(c.merge_flat(bad_len.parts(&["a"])).is_err());
        let bad_counts = FlatState {
            ids: vec![0],
            positives: vec![2],
            ..bad_id
        };
        assert!(c.merge_flat(bad_counts.parts(&["a"])).is_err());
    }
}
