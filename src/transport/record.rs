//! A decorator that writes every exchange and reset to a JSON Lines trace ([`crate::trace`]).
//!
//! Each line is written and flushed before the response is handed back, so a trace ends with
//! the last exchange even when the program is killed. The recorder writes a `disconnect`
//! event when it is finished or dropped. Commands that carry keys are written as
//! `"REDACTED"` ([`crate::sensitive::is_sensitive_command`]) unless the recorder was made with
//! `secrets = true` (`--trace-secrets`).

use super::{Transport, TransportError};
use crate::trace::{now_rfc3339, Event, EventKind, Exchange, Record, Recorded};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The decorator.
#[derive(Debug)]
pub struct Recorder<T: Transport> {
    inner: T,
    out: BufWriter<File>,
    path: PathBuf,
    seq: u64,
    secrets: bool,
    /// The `disconnect` event has been written.
    finished: bool,
}

impl<T: Transport> Recorder<T> {
    /// Starts a trace at `path` (appended to when it exists, so several runs can share one
    /// file) with a `connect` event carrying the ATR. On unix the file is created with mode
    /// 0600: a trace with secrets must not be readable by others.
    pub fn new(inner: T, path: &Path, secrets: bool) -> Result<Self, TransportError> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|source| TransportError::Trace {
            path: path.to_owned(),
            source,
        })?;
        let mut recorder = Self {
            inner,
            out: BufWriter::new(file),
            path: path.to_owned(),
            seq: 0,
            secrets,
            finished: false,
        };
        let atr = recorder.inner.atr();
        recorder.event(EventKind::Connect, Some(atr))?;
        Ok(recorder)
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped transport.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Writes the `disconnect` event now (dropping the recorder does it too, without a way to
    /// report a failure).
    pub fn finish(mut self) -> Result<(), TransportError> {
        self.finished = true;
        self.event(EventKind::Disconnect, None)
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    fn event(&mut self, kind: EventKind, atr: Option<Vec<u8>>) -> Result<(), TransportError> {
        let record = Record::Event(Event {
            seq: Some(self.next_seq()),
            ts: Some(now_rfc3339()),
            kind,
            atr,
            reader: Some(self.inner.reader_name()),
        });
        self.write(&record)
    }

    fn write(&mut self, record: &Record) -> Result<(), TransportError> {
        let line = record.to_json_line();
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|source| TransportError::Trace {
                path: self.path.clone(),
                source,
            })
    }
}

impl<T: Transport> Drop for Recorder<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            if let Err(e) = self.event(EventKind::Disconnect, None) {
                tracing::warn!("trace: {e}");
            }
        }
    }
}

impl<T: Transport> Transport for Recorder<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let ts = now_rfc3339();
        let start = Instant::now();
        let response = self.inner.transmit(command)?;
        let elapsed_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let c_apdu = Recorded::from_command(command, self.secrets);
        let record = Record::Exchange(Exchange {
            seq: Some(self.next_seq()),
            ts: Some(ts),
            elapsed_us: Some(elapsed_us),
            reader: Some(self.inner.reader_name()),
            c_apdu,
            r_apdu: response.clone(),
        });
        self.write(&record)?;
        Ok(response)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        let atr = self.inner.reset()?;
        self.event(EventKind::Reset, Some(atr.clone()))?;
        Ok(atr)
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reader_name(&self) -> String {
        self.inner.reader_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::read_trace;
    use crate::transport::channel::ResponseAssembler;
    use crate::transport::fake_card::{FakeCard, AID};

    #[test]
    fn every_exchange_and_reset_is_recorded_with_keys_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let recorder = Recorder::new(FakeCard::new(), &path, false).unwrap();
        let mut t = ResponseAssembler::new(recorder);
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, u8::try_from(AID.len()).unwrap()];
        select.extend_from_slice(&AID);
        let r = t.transmit(&select).unwrap();
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
        let put_key = [0x80, 0xD8, 0x00, 0x81, 0x02, 0x30, 0x88];
        t.transmit(&put_key).unwrap();
        t.reset().unwrap();
        let recorder = t.into_inner();
        recorder.finish().unwrap();

        let records = read_trace(&path).unwrap();
        let kinds: Vec<String> = records
            .iter()
            .map(|r| match r {
                Record::Event(e) => e.kind.as_str().to_owned(),
                Record::Exchange(x) => match &x.c_apdu {
                    Recorded::Bytes(b) => crate::hexfmt::upper(&b[..2]),
                    Recorded::Redacted => "REDACTED".into(),
                },
            })
            .collect();
        assert_eq!(
            kinds,
            ["connect", "00A4", "00C0", "REDACTED", "reset", "disconnect"]
        );
        let seqs: Vec<u64> = records
            .iter()
            .map(|r| match r {
                Record::Event(e) => e.seq.unwrap(),
                Record::Exchange(x) => x.seq.unwrap(),
            })
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
        // The SELECT without Le got 61xx; the GET RESPONSE brought the FCI.
        let Record::Exchange(x) = &records[2] else {
            panic!()
        };
        assert_eq!(x.r_apdu, r);
        assert!(x.elapsed_us.is_some() && x.reader.is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
    }

    #[test]
    fn a_dropped_recorder_writes_the_disconnect_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut t = Recorder::new(FakeCard::new(), &path, false).unwrap();
        t.transmit(&[0x00, 0xA4, 0x04, 0x00]).unwrap();
        drop(t);
        let records = read_trace(&path).unwrap();
        let Some(Record::Event(last)) = records.last() else {
            panic!("{records:?}")
        };
        assert_eq!(last.kind.as_str(), "disconnect");
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn secrets_are_written_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut t = Recorder::new(FakeCard::new(), &path, true).unwrap();
        let put_key = [0x80, 0xD8, 0x00, 0x81, 0x02, 0x30, 0x88];
        t.transmit(&put_key).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("80D800810230 88".replace(' ', "").as_str()),
            "{text}"
        );
        assert!(!text.contains("REDACTED"));
    }

    #[test]
    fn unwritable_trace_names_the_path() {
        let err =
            Recorder::new(FakeCard::new(), Path::new("/nonexistent/dir/t"), false).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dir/t"), "{err}");
    }
}
