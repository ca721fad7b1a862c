//! NDJSON input: one JSON object per line.
//!
//! Blank lines are skipped (but counted for line numbers); a line that is not a JSON object is
//! a rejected row. Values are turned into text and checked by the same rules as CSV fields:
//! strings as they are, numbers and booleans in their JSON spelling, `null` as NULL, nested
//! arrays and objects as JSON text. The columns are the keys: a contract column absent from a
//! row is NULL there. Keys outside the contract become extra columns when first seen; one that
//! first appears after the first batch has gone out starts a new part file with the wider
//! schema. Objects are parsed with a serde visitor that borrows strings from the line, so the
//! good path does not allocate per value.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};

use super::batch::{unique_name, ParseJob, Row, Sink};
use super::keys::PkIndex;
use super::source::BOM;
use super::{FileStats, LoadError};

const BUFFER: usize = 1 << 20;

/// One parsed line: values as text in an arena, by key slot.
#[derive(Debug, Default)]
struct JsonRow {
    arena: String,
    slots: Vec<Option<(usize, usize)>>,
}

impl Row for JsonRow {
    fn text(&self, idx: usize) -> Option<&str> {
        let (a, b) = (*self.slots.get(idx)?)?;
        self.arena.get(a..b)
    }
}

/// Key name -> slot. Grows as new keys appear.
#[derive(Debug, Default)]
struct Keys {
    slots: HashMap<String, usize>,
}

/// Reads one NDJSON file into `job`'s channel.
pub(crate) fn read(
    job: ParseJob,
    reader: Box<dyn Read + Send>,
    size: u64,
    pk: PkIndex,
) -> Result<(FileStats, PkIndex), LoadError> {
    let mut sink = Sink::new(job, pk);
    let file = sink.file().to_string();
    let mut reader = BufReader::with_capacity(BUFFER, reader);
    let mut keys = Keys::default();
    let mut row = JsonRow::default();
    let mut line = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    let mut estimated = false;
    // Output names taken so far, to keep extra column names unique.
    let mut names: Vec<String> = sink.asm.column_names();
    sink.announce_schema()?;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| LoadError::Io {
                file: file.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bytes += n as u64;
        if !estimated && line_no >= 1024 {
            estimated = true;
            sink.expect_rows(super::csv::estimate_rows(size, bytes, line_no));
        }
        let mut text: &[u8] = &line;
        if line_no == 1 {
            text = text.strip_prefix(BOM).unwrap_or(text);
        }
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let known = keys.slots.len();
        row.arena.clear();
        row.slots.iter_mut().for_each(|s| *s = None);
        let parsed = parse_object(text, &mut keys, &mut row);
        // Register keys seen for the first time, even on a line rejected later: the contract
        // binding or the extra column is a property of the file.
        if keys.slots.len() > known {
            let mut new: Vec<(&String, &usize)> =
                keys.slots.iter().filter(|(_, s)| **s >= known).collect();
            new.sort_by_key(|(_, s)| **s);
            for (name, &slot) in new {
                let bound = sink.asm.bound();
                match sink.plan().match_column(name, &bound) {
                    Some(col) => sink.asm.bind(col, slot),
                    None => {
                        let out = unique_name(&names, name, slot);
                        names.push(out.clone());
                        sink.asm.add_extra(out, slot);
                    }
                }
            }
        }
        match parsed {
            Ok(()) => sink.row(&row, line_no, |_| {
                String::from_utf8_lossy(text).into_owned()
            })?,
            Err(e) => sink.reject(
                line_no,
                format!("not a JSON object: {e}"),
                String::from_utf8_lossy(text).into_owned(),
            )?,
        }
    }
    sink.finish()
}

/// Parses `text` as one JSON object into `row`, assigning slots to new keys.
fn parse_object(text: &[u8], keys: &mut Keys, row: &mut JsonRow) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.deserialize_map(ObjectVisitor { keys, row })?;
    de.end()
}

struct ObjectVisitor<'k> {
    keys: &'k mut Keys,
    row: &'k mut JsonRow,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyName<'de>>()? {
            let slot = match self.keys.slots.get(key.as_str()) {
                Some(&s) => s,
                None => {
                    let s = self.keys.slots.len();
                    self.keys.slots.insert(key.as_str().to_string(), s);
                    s
                }
            };
            if self.row.slots.len() <= slot {
                self.row.slots.resize(slot + 1, None);
            }
            let start = self.row.arena.len();
            let present = map.next_value_seed(ValueSeed {
                arena: &mut self.row.arena,
            })?;
            self.row.slots[slot] = present.then_some((start, self.row.arena.len()));
        }
        Ok(())
    }
}

/// A key, borrowed from the line when it has no escapes.
enum KeyName<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl KeyName<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyName::Borrowed(s) => s,
            KeyName::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyName::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyName::Owned(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyName::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Writes a value's text into the arena; `false` for `null`.
struct ValueSeed<'a> {
    arena: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.arena.push_str(v);
        Ok(true)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.arena.push_str(if v { "true" } else { "false" });
        Ok(true)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        write!(self.arena, "{v}").map_err(E::custom)?;
        Ok(true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        write!(self.arena, "{v}").map_err(E::custom)?;
        Ok(true)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        write!(self.arena, "{v}").map_err(E::custom)?;
        Ok(true)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let v: serde_json::Value =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        write!(self.arena, "{v}").map_err(de::Error::custom)?;
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        let v: serde_json::Value =
            de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        write!(self.arena, "{v}").map_err(de::Error::custom)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<(String, Option<String>)>, serde_json::Error> {
        let mut keys = Keys::default();
        let mut row = JsonRow::default();
        parse_object(s.as_bytes(), &mut keys, &mut row)?;
        let mut out: Vec<(String, Option<String>)> = keys
            .slots
            .iter()
            .map(|(k, &s)| (k.clone(), row.text(s).map(str::to_string)))
            .collect();
        out.sort();
        Ok(out)
    }

    #[test]
    fn values_become_text() -> Result<(), serde_json::Error> {
        let got =
            parse(r#"{"a":"x\"y","b":12,"c":1.5,"d":true,"e":null,"f":[1,{"g":2}],"h\u00e9":-3}"#)?;
        let want = [
            ("a", Some("x\"y")),
            ("b", Some("12")),
            ("c", Some("1.5")),
            ("d", Some("true")),
            ("e", None),
            ("f", Some("[1,{\"g\":2}]")),
            ("hé", Some("-3")),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!(k, wk);
            assert_eq!(v.as_deref(), wv);
        }
        assert!(parse("[1,2]").is_err());
        assert!(parse("42").is_err());
        assert!(parse(r#"{"a":1} x"#).is_err());
        assert!(parse(r#"{"a":1"#).is_err());
        Ok(())
    }
}
