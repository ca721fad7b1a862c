//! CSV input: RFC 4180 with a header row, read with the `csv` crate as byte records.
//!
//! Accepted: a UTF-8 BOM, LF or CRLF line ends, quoted fields with `""` escapes and line breaks.
//! Line numbers are the physical line where a record starts (the header is line 1), so they
//! stay right after quoted line breaks. Records end at `\n` only: in the `csv` crate's CRLF
//! mode, the position of a record after a CRLF line end is one line short, so instead the `\r`
//! of a CRLF is removed from the record's last field here ([`CsvRow`]). A record with more or
//! fewer fields than the header is rejected, not fatal. A quote left open at the end of the file
//! is fatal: it would otherwise swallow every later row into one field. The `csv` crate does not
//! report that case, so [`QuoteTracker`] follows the quoting state over the raw bytes as they
//! are read. A record's UTF-8 is checked once, as a whole.
//!
//! Tokenizing is about a third of the work, so it runs on a scoped helper thread that hands
//! records over in recycled chunks while this thread checks them and builds batches.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use csv::{ByteRecord, StringRecord};

use super::batch::{csv_line, resolve_header, ParseJob, Row, Sink};
use super::keys::PkIndex;
use super::source::skip_bom;
use super::{FileStats, LoadError};

/// Buffer of the CSV reader.
const BUFFER: usize = 1 << 20;
/// Records per chunk handed from the tokenizer thread to the checking thread.
const CHUNK: usize = 1024;
/// Chunks in flight between the two threads.
const CHUNKS_IN_FLIGHT: usize = 4;

type CsvReader = csv::Reader<QuoteTracker<Box<dyn Read + Send>>>;

/// What the tokenizer thread sends.
enum Tokens {
    /// `records[..len]` are the next records.
    Chunk {
        records: Vec<ByteRecord>,
        len: usize,
    },
    /// End of the input; whether a quoted field was left open.
    End {
        open_quote: bool,
    },
    Failed(LoadError),
}

/// Reads one CSV file into `job`'s channel.
///
/// Two threads: this one checks records and builds batches; a scoped helper tokenizes the
/// bytes into records (about a third of the work), handing them over in recycled chunks.
pub(crate) fn read(
    job: ParseJob,
    reader: Box<dyn Read + Send>,
    size: u64,
    pk: PkIndex,
) -> Result<(FileStats, PkIndex), LoadError> {
    let delimiter = job.plan.delimiter;
    let mut sink = Sink::new(job, pk);
    let file = sink.file().to_string();
    let io_err = |source| LoadError::Io {
        file: file.clone(),
        source,
    };
    let tracked = QuoteTracker::new(skip_bom(reader).map_err(io_err)?, delimiter);
    let mut rdr: CsvReader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(BUFFER)
        .from_reader(tracked);

    // The header. An empty file has none: zero rows, nothing to check.
    let mut record = ByteRecord::new();
    if !rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(&file, e, 1))?
    {
        sink.announce_schema()?;
        return sink.finish();
    }
    let mut header = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| LoadError::Parse {
            file: file.clone(),
            line: 1,
            message: format!("column name #{} is not valid UTF-8", i + 1),
        })?;
        header.push(name.trim().to_string());
    }
    let width = header.len();
    let layout = resolve_header(sink.plan(), &file, &header)?;
    sink.asm.set_layout(layout);
    sink.columns_known();
    sink.announce_schema()?;

    let (tx, rx) = sync_channel::<Tokens>(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<ByteRecord>>(CHUNKS_IN_FLIGHT + 2);
    std::thread::scope(|scope| {
        let tokenizer = scope.spawn(|| tokenize(rdr, &file, tx, recycle_rx));
        let checked = check_records(&mut sink, rx, recycle_tx, (width, delimiter, size), &file);
        // `rx` is gone: a tokenizer still sending stops at its next send.
        let joined = tokenizer.join();
        checked?;
        joined.map_err(|_| LoadError::Task {
            file: file.clone(),
            message: "the CSV tokenizer thread panicked".to_string(),
        })
    })?;
    sink.finish()
}

fn csv_error(file: &str, e: csv::Error, line: u64) -> LoadError {
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => LoadError::Io {
            file: file.to_string(),
            source,
        },
        _ => LoadError::Parse {
            file: file.to_string(),
            line,
            message,
        },
    }
}

/// The tokenizer thread: records in chunks until the end of the input or an error.
fn tokenize(
    mut rdr: CsvReader,
    file: &str,
    tx: SyncSender<Tokens>,
    recycle: Receiver<Vec<ByteRecord>>,
) {
    let mut last_line = 1;
    loop {
        let mut records = recycle.try_recv().unwrap_or_default();
        if records.len() < CHUNK {
            records.resize_with(CHUNK, ByteRecord::new);
        }
        let mut len = 0;
        let mut end = false;
        while len < CHUNK {
            match rdr.read_byte_record(&mut records[len]) {
                Ok(true) => {
                    last_line = records[len].position().map_or(last_line + 1, |p| p.line());
                    len += 1;
                }
                Ok(false) => {
                    end = true;
                    break;
                }
                Err(e) => {
                    let _ = tx.send(Tokens::Failed(csv_error(file, e, last_line + 1)));
                    return;
                }
            }
        }
        if len > 0 && tx.send(Tokens::Chunk { records, len }).is_err() {
            return;
        }
        if end {
            let open_quote = rdr.get_ref().in_open_quote();
            let _ = tx.send(Tokens::End { open_quote });
            return;
        }
    }
}

/// The checking side: every record of every chunk into the sink.
fn check_records(
    sink: &mut Sink,
    rx: Receiver<Tokens>,
    recycle: SyncSender<Vec<ByteRecord>>,
    (width, delimiter, size): (usize, u8, u64),
    file: &str,
) -> Result<(), LoadError> {
    let mut last_line = 1;
    let mut estimated = false;
    // The empty record that stands in for the one being checked (see `check_record`).
    let mut spare = None;
    for tokens in rx {
        let (mut records, len) =
            match tokens {
                Tokens::Chunk { records, len } => (records, len),
                Tokens::End { open_quote: false } => return Ok(()),
                Tokens::End { open_quote: true } => return Err(LoadError::Parse {
                    file: file.to_string(),
                    line: last_line,
                    message:
                        "a quoted field starting in this record is never closed (unterminated `\"`)"
                            .to_string(),
                }),
                Tokens::Failed(e) => return Err(e),
            };
        for record in records.iter_mut().take(len) {
            let line = record.position().map_or(last_line + 1, |p| p.line());
            last_line = line;
            check_record(sink, record, &mut spare, line, width, delimiter)?;
        }
        if !estimated {
            estimated = true;
            let bytes = records[..len]
                .last()
                .and_then(|r| r.position())
                .map_or(0, |p| p.byte());
            sink.expect_rows(estimate_rows(size, bytes, len as u64));
        }
        // The tokenizer may have stopped already: then the chunk is simply dropped.
        let _ = recycle.try_send(records);
    }
    Err(LoadError::Task {
        file: file.to_string(),
        message: "the CSV tokenizer stopped without reaching the end".to_string(),
    })
}

/// Rows of a file of `size` bytes whose first `rows` rows took `bytes` bytes, when that
/// sample is large enough to say (64 KiB); else 0.
pub(crate) fn estimate_rows(size: u64, bytes: u64, rows: u64) -> u64 {
    if bytes < 64 * 1024 || rows == 0 {
        return 0;
    }
    let per_row = (bytes / rows).max(1);
    size / per_row + size / per_row / 10
}

fn check_record(
    sink: &mut Sink,
    record: &mut ByteRecord,
    spare: &mut Option<ByteRecord>,
    line: u64,
    width: usize,
    delimiter: u8,
) -> Result<(), LoadError> {
    if is_blank(record) {
        return Ok(());
    }
    if record.len() != width {
        let reason = format!("row has {} fields, header has {width}", record.len());
        return sink.reject(line, reason, render(record, delimiter));
    }
    // One UTF-8 check for the whole record; the record's buffers are kept either way, and
    // `spare` stands in for it meanwhile (no allocation per record).
    let owned = std::mem::replace(record, spare.take().unwrap_or_default());
    let (result, back) = match StringRecord::from_byte_record(owned) {
        Ok(text) => {
            let row = CsvRow {
                record: &text,
                last: width.saturating_sub(1),
            };
            let r = sink.row(&row, line, |r| render(r.record.as_byte_record(), delimiter));
            (r, text.into_byte_record())
        }
        Err(e) => {
            let field = e.utf8_error().field();
            let bytes = e.into_byte_record();
            let raw = bytes.get(field).unwrap_or_default();
            let r = sink.reject_invalid_utf8(line, field, raw, render(&bytes, delimiter));
            (r, bytes)
        }
    };
    *spare = Some(std::mem::replace(record, back));
    result
}

/// A line with nothing but a line end (the `csv` crate skips empty LF lines itself).
fn is_blank(record: &ByteRecord) -> bool {
    record.len() == 1 && matches!(record.get(0), Some(b"" | b"\r"))
}

/// A field of `record`, without the `\r` of a CRLF line end when it is the last one.
fn field_bytes(record: &ByteRecord, idx: usize) -> &[u8] {
    let f = record.get(idx).unwrap_or_default();
    if idx + 1 == record.len() {
        f.strip_suffix(b"\r").unwrap_or(f)
    } else {
        f
    }
}

/// The record as one CSV line, for the quarantine.
fn render(record: &ByteRecord, delimiter: u8) -> String {
    csv_line((0..record.len()).map(|i| field_bytes(record, i)), delimiter)
}

/// A UTF-8 checked record, without the `\r` of a CRLF line end.
struct CsvRow<'a> {
    record: &'a StringRecord,
    last: usize,
}

impl Row for CsvRow<'_> {
    fn text(&self, idx: usize) -> Option<&str> {
        let f = self.record.get(idx)?;
        if idx == self.last && f.as_bytes().last() == Some(&b'\r') {
            f.get(..f.len() - 1)
        } else {
            Some(f)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// Not inside a quoted field.
    Outside,
    /// Inside a quoted field.
    Quoted,
    /// Inside a quoted field, just after a `"`: either an escaped `""` or the closing quote.
    QuoteInQuoted,
}

/// Follows RFC 4180 quoting over the bytes passing through, like the `csv` crate's parser
/// does: a `"` opens a quoted field only at the start of a field; inside one, `""` is a quote
/// and a single `"` closes it. Only the bytes at quotes are looked at.
struct QuoteTracker<R> {
    inner: R,
    delimiter: u8,
    state: QuoteState,
    /// The byte before the current buffer (a line break at the start of the file).
    prev: u8,
}

impl<R> QuoteTracker<R> {
    fn new(inner: R, delimiter: u8) -> Self {
        QuoteTracker {
            inner,
            delimiter,
            state: QuoteState::Outside,
            prev: b'\n',
        }
    }

    /// Whether the bytes so far end inside a quoted field.
    fn in_open_quote(&self) -> bool {
        self.state == QuoteState::Quoted
    }

    fn scan(&mut self, buf: &[u8]) {
        let mut i = 0;
        while i < buf.len() {
            match self.state {
                QuoteState::QuoteInQuoted => {
                    if buf[i] == b'"' {
                        self.state = QuoteState::Quoted;
                        i += 1;
                    } else {
                        self.state = QuoteState::Outside;
                    }
                }
                QuoteState::Quoted => {
                    match memchr::memchr(b'"', buf.get(i..).unwrap_or_default()) {
                        Some(j) => {
                            self.state = QuoteState::QuoteInQuoted;
                            i += j + 1;
                        }
                        None => break,
                    }
                }
                QuoteState::Outside => match memchr::memchr(b'"', buf.get(i..).unwrap_or_default())
                {
                    Some(j) => {
                        let at = i + j;
                        let before = if at == 0 { self.prev } else { buf[at - 1] };
                        if before == self.delimiter || before == b'\n' || before == b'\r' {
                            self.state = QuoteState::Quoted;
                        }
                        i = at + 1;
                    }
                    None => break,
                },
            }
        }
        if let Some(&last) = buf.last() {
            self.prev = last;
        }
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(buf.get(..n).unwrap_or(buf));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_at_end(input: &str, chunk: usize) -> bool {
        let mut t = QuoteTracker::new(std::io::empty(), b',');
        for c in input.as_bytes().chunks(chunk) {
            t.scan(c);
        }
        t.in_open_quote()
    }

    #[test]
    fn quote_tracker() {
        for chunk in [1, 2, 3, 1000] {
            assert!(!open_at_end("a,b\n1,2\n", chunk));
            assert!(!open_at_end("\"a\",\"b\"\n\"1\",\"x\ny\"\n", chunk));
            assert!(!open_at_end("a,b\n1,\"say \"\"hi\"\"\"\n", chunk));
            assert!(!open_at_end("a,b\n1,\"\"\n", chunk));
            assert!(
                !open_at_end("a,b\n1,5\" screen\n", chunk),
                "quote inside an unquoted field"
            );
            assert!(!open_at_end("a,b\r\n\"1\",\"2\"", chunk));
            assert!(open_at_end("a,b\n1,\"open\n2,3\n", chunk));
            assert!(open_at_end("a,b\n1,\"x\"\"\n", chunk));
            assert!(open_at_end("\"a", chunk));
        }
    }
}
