//! An input file's bytes as a blocking `Read`, for the parsers running in `spawn_blocking`.
//!
//! Object stores answer `get()` with a stream of chunks, bridged to `Read` with
//! `tokio_util`'s `SyncIoBridge`. The local file system answers with the open file itself; it
//! is read directly (its stream would cost one `spawn_blocking` per 8 KiB chunk).

use std::io::{Read, Seek, SeekFrom};

use futures::TryStreamExt;
use object_store::{GetResult, GetResultPayload, ObjectStoreExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{InputFile, LoadError};

/// Starts reading `input`.
pub(crate) async fn open(input: &InputFile) -> Result<GetResult, LoadError> {
    input
        .store
        .get(&input.path)
        .await
        .map_err(|source| LoadError::Read {
            file: input.display.clone(),
            source,
        })
}

/// The bytes of `get` as a blocking reader. Must run outside the async runtime's workers
/// (in `spawn_blocking`); `handle` drives the stream.
pub(crate) fn blocking_reader(
    handle: &tokio::runtime::Handle,
    get: GetResult,
) -> Box<dyn Read + Send> {
    let range = get.range.clone();
    match get.payload {
        GetResultPayload::File(mut file, _) => {
            let len = range.end.saturating_sub(range.start);
            match file.seek(SeekFrom::Start(range.start)) {
                Ok(_) => Box::new(file.take(len)),
                Err(e) => Box::new(FailedRead(Some(e))),
            }
        }
        GetResultPayload::Stream(stream) => {
            let reader = StreamReader::new(stream.map_err(std::io::Error::from));
            Box::new(SyncIoBridge::new_with_handle(reader, handle.clone()))
        }
    }
}

/// `reader` decompressed as `compression` says (gzip: every member of a multi-member file).
pub(crate) fn decompress(
    reader: Box<dyn Read + Send>,
    compression: crate::contract::Compression,
) -> Box<dyn Read + Send> {
    match compression {
        crate::contract::Compression::None => reader,
        crate::contract::Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(256 * 1024, reader),
        )),
    }
}

/// A reader whose first read fails with a stored error.
struct FailedRead(Option<std::io::Error>);

impl Read for FailedRead {
    fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// The UTF-8 byte order mark.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `reader` without a leading UTF-8 BOM.
pub(crate) fn skip_bom(mut reader: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if head[..n] == *BOM {
        Ok(reader)
    } else {
        Ok(Box::new(
            std::io::Cursor::new(head[..n].to_vec()).chain(reader),
        ))
    }
}
