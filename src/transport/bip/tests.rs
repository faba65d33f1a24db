//! The terminal against a scripted proactive card and a loopback TCP peer.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::*;
use smsr_proto::cat::{CloseChannel, OpenChannel, ReceiveData, SendData, TerminalResponse};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::mpsc;

/// A card that asks for the queued proactive commands one after the other and keeps every
/// TERMINAL RESPONSE and ENVELOPE it gets.
#[derive(Debug, Default)]
struct ScriptedCard {
    queue: VecDeque<Vec<u8>>,
    responses: Vec<TerminalResponse>,
    envelopes: Vec<Vec<u8>>,
}

impl ScriptedCard {
    fn status(&self) -> Vec<u8> {
        match self.queue.front() {
            Some(c) => vec![0x91, u8::try_from(c.len() % 256).unwrap()],
            None => vec![0x90, 0x00],
        }
    }
}

impl Transport for ScriptedCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        match command.get(..2) {
            Some([0x80, 0x12]) => {
                let mut r = self.queue.pop_front().expect("a command to fetch");
                r.extend([0x90, 0x00]);
                Ok(r)
            }
            Some([0x80, 0x14]) => {
                let apdu = smsr_proto::CommandApdu::parse(command).unwrap();
                self.responses
                    .push(TerminalResponse::parse(&apdu.data).unwrap());
                Ok(self.status())
            }
            Some([0x80, 0xC2]) => {
                self.envelopes.push(command.to_vec());
                Ok(self.status())
            }
            _ => Ok(self.status()),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        Ok(vec![0x3B, 0x00])
    }

    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }

    fn reader_name(&self) -> String {
        "scripted".into()
    }
}

fn open(port: u16, buffer: u16) -> Vec<u8> {
    Proactive::OpenChannel(OpenChannel::tcp_client(
        1,
        Ipv4Addr::LOCALHOST,
        port,
        buffer,
    ))
    .to_bytes()
    .unwrap()
}

fn send(number: u8, flush: bool, data: Vec<u8>) -> Vec<u8> {
    Proactive::SendData(SendData {
        number,
        flush,
        channel: 1,
        data,
    })
    .to_bytes()
    .unwrap()
}

/// A terminal towards a listener, with its socket news in a channel; the listener.
fn terminal() -> (
    Terminal,
    mpsc::Receiver<Incoming>,
    TcpListener,
    ProactiveWatch<ScriptedCard>,
) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let notify: Notify = Arc::new(move |i| tx.lock().unwrap().send(i).is_ok());
    let (watch, pending) = ProactiveWatch::new(ScriptedCard::default());
    let t = Terminal::new(listener.local_addr().unwrap(), notify, pending);
    (t, rx, listener, watch)
}

fn run_all(t: &mut Terminal, card: &mut ProactiveWatch<ScriptedCard>) {
    // Any command lets the card say a command waits.
    t.profile(card).unwrap();
    while t.step(card).unwrap() {}
}

#[test]
fn send_data_beyond_the_granted_buffer_is_refused() {
    let (mut t, _rx, listener, mut card) = terminal();
    let port = listener.local_addr().unwrap().port();
    card.inner.queue = VecDeque::from([
        open(port, 300),
        send(2, false, vec![0xAA; 241]),
        send(3, true, vec![0xBB; 100]),
        send(4, true, vec![0xCC; 20]),
    ]);
    run_all(&mut t, &mut card);
    let r = &card.inner.responses;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].general_result, cat::result::OK);
    assert_eq!(r[1].general_result, cat::result::OK);
    // 241 stored + 100 > 300: BIP error, buffer size not available.
    assert_eq!(r[2].general_result, cat::result::BIP_ERROR);
    assert_eq!(r[2].additional_info, [0x04]);
    // The buffer was emptied: a small flush goes through, and only it reaches the peer.
    assert_eq!(r[3].general_result, cat::result::OK);
    let (mut peer, _) = listener.accept().unwrap();
    let mut got = [0u8; 20];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, [0xCC; 20]);
}

#[test]
fn long_channel_data_uses_the_81_length_form_both_ways() {
    let (mut t, rx, listener, mut card) = terminal();
    let port = listener.local_addr().unwrap().port();
    let data: Vec<u8> = (0..200u8).collect();
    let command = send(2, true, data.clone());
    // D0 81 LL … 36 81 C8: the command's and the channel data's lengths above 127.
    assert_eq!(&command[..2], [0xD0, 0x81]);
    assert!(command.windows(3).any(|w| w == [0x36, 0x81, 0xC8]));
    card.inner.queue = VecDeque::from([open(port, 1500), command]);
    run_all(&mut t, &mut card);
    let (mut peer, _) = listener.accept().unwrap();
    let mut got = vec![0u8; 200];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, data);

    // 200 bytes back: a Data available event, then RECEIVE DATA whose TR carries 36 81 C8.
    peer.write_all(&data).unwrap();
    let mut arrived = 0;
    while arrived < 200 {
        match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
            Incoming::Data { generation, bytes } => {
                arrived += bytes.len();
                t.on_socket(Incoming::Data { generation, bytes });
            }
            other => t.on_socket(other),
        }
    }
    // The card subscribed to nothing: no event goes.
    assert!(!t.step(&mut card).unwrap());
    t.events = vec![cat::event::DATA_AVAILABLE];
    assert!(t.step(&mut card).unwrap());
    let event = card.inner.envelopes.last().unwrap();
    assert_eq!(event[5], 0xD6);
    card.inner.queue.push_back(
        Proactive::ReceiveData(ReceiveData {
            number: 3,
            channel: 1,
            length: 200,
        })
        .to_bytes()
        .unwrap(),
    );
    t.profile(&mut card).unwrap();
    while t.step(&mut card).unwrap() {}
    let tr = card.inner.responses.last().unwrap();
    assert_eq!(tr.find(cat::tags::CHANNEL_DATA).unwrap().value, data);
    assert!(tr
        .to_bytes()
        .unwrap()
        .windows(3)
        .any(|w| w == [0x36, 0x81, 0xC8]));
    assert_eq!(tr.find(cat::tags::CHANNEL_DATA_LENGTH).unwrap().value, [0]);
}

#[test]
fn a_card_that_closes_the_channel_early_frees_it() {
    let (mut t, _rx, listener, mut card) = terminal();
    let port = listener.local_addr().unwrap().port();
    card.inner.queue = VecDeque::from([
        open(port, 1500),
        Proactive::CloseChannel(CloseChannel {
            number: 2,
            channel: 1,
        })
        .to_bytes()
        .unwrap(),
        send(3, true, vec![1, 2, 3]),
    ]);
    run_all(&mut t, &mut card);
    let r = &card.inner.responses;
    assert_eq!(r[1].general_result, cat::result::OK);
    assert!(!t.channel_open());
    // The peer sees the connection end.
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), 0);
    // SEND DATA on the closed channel: channel identifier not valid.
    assert_eq!(r[2].general_result, cat::result::BIP_ERROR);
    assert_eq!(r[2].additional_info, [0x03]);
}

#[test]
fn a_second_open_channel_and_unknown_commands_are_answered() {
    let (mut t, _rx, listener, mut card) = terminal();
    let port = listener.local_addr().unwrap().port();
    let mut other = smsr_proto::cat::ProactiveCommand::parse(&open(port, 10)).unwrap();
    other.details.kind = 0x21; // DISPLAY TEXT
    other.tlvs.clear();
    other.destination = 0x02;
    card.inner.queue = VecDeque::from([
        open(port, 1500),
        open(port, 1500),
        other.to_bytes().unwrap(),
    ]);
    run_all(&mut t, &mut card);
    let r = &card.inner.responses;
    assert_eq!(r[0].general_result, cat::result::OK);
    assert_eq!(r[1].general_result, cat::result::BIP_ERROR);
    assert_eq!(r[1].additional_info, [0x01]);
    assert_eq!(r[2].general_result, cat::result::BEYOND_CAPABILITIES);
}
