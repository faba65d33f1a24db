//! The vpcd link against a local listener playing vpcd.

use super::*;
use crate::eid::parse_eid;
use crate::CardState;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

const EID: &str = "89044011112233441122334411223321";
const SELECT_ECASD: &str = "00A4040C10A0000005591010FFFFFFFF8900000200";

/// The vpcd side of the link.
struct FakeVpcd {
    stream: TcpStream,
}

impl FakeVpcd {
    fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream }
    }

    fn send(&mut self, payload: &[u8]) {
        let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
        self.stream.write_all(&len).unwrap();
        self.stream.write_all(payload).unwrap();
    }

    fn receive(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).unwrap();
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut payload).unwrap();
        payload
    }

    fn apdu(&mut self, c_apdu: &str) -> String {
        self.send(&hex::decode(c_apdu).unwrap());
        hex::encode_upper(self.receive())
    }
}

fn spawn_client(addr: String, stop: Arc<AtomicBool>) -> thread::JoinHandle<Emulator> {
    let mut emulator = Emulator::in_memory(CardState::new(Some(parse_eid(EID).unwrap())));
    let client = VpcdClient::new(&addr)
        .unwrap()
        .with_backoff(Duration::from_millis(10));
    thread::spawn(move || {
        client.run(&mut emulator, &stop);
        emulator
    })
}

#[test]
fn power_atr_apdu_and_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let client = spawn_client(addr, Arc::clone(&stop));

    let mut vpcd = FakeVpcd::accept(&listener);
    vpcd.send(&[CTRL_POWER_ON]);
    vpcd.send(&[CTRL_GET_ATR]);
    assert_eq!(vpcd.receive(), crate::ATR);
    assert_eq!(vpcd.apdu(SELECT_ECASD), "9000");
    assert_eq!(vpcd.apdu("80CA005A00"), format!("5A10{EID}9000"));
    // Unknown control messages and a frame written byte by byte.
    vpcd.send(&[3]);
    for b in [0x00, 0x05, 0x80, 0xCA, 0x00, 0x5A, 0x00] {
        vpcd.stream.write_all(&[b]).unwrap();
    }
    assert_eq!(hex::encode_upper(vpcd.receive()), format!("5A10{EID}9000"));
    vpcd.send(&[CTRL_RESET]);
    assert_eq!(vpcd.apdu("80CA005A00"), "6D00", "reset selects the MF");
    drop(vpcd);

    // pcscd restarted: the client comes back; the card was powered off meanwhile.
    let mut vpcd = FakeVpcd::accept(&listener);
    vpcd.send(&[CTRL_GET_ATR]);
    assert_eq!(vpcd.receive(), crate::ATR);
    vpcd.send(&[CTRL_POWER_ON]);
    assert_eq!(vpcd.apdu("80CA005A00"), "6D00");
    assert_eq!(vpcd.apdu(SELECT_ECASD), "9000");
    assert_eq!(vpcd.apdu("80CA005A00"), format!("5A10{EID}9000"));
    vpcd.send(&[CTRL_POWER_OFF]);
    assert_eq!(vpcd.apdu("80CA005A00"), "6D00");

    stop.store(true, Ordering::Relaxed);
    drop(vpcd);
    drop(listener);
    let emulator = client.join().unwrap();
    assert!(!emulator.is_powered());
}

#[test]
fn connection_closed_mid_frame_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.stream.write_all(&[0x00, 0x05, 0x80]).unwrap();
    });
    let stream = TcpStream::connect(addr).unwrap();
    let mut emulator = Emulator::in_memory(CardState::new(None));
    let err = serve(&mut emulator, stream).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    server.join().unwrap();
}

#[test]
fn address_forms() {
    assert_eq!(
        VpcdClient::new(DEFAULT_VPCD_ADDR).unwrap().addr(),
        DEFAULT_VPCD_ADDR
    );
    assert!(VpcdClient::new("localhost:35964").is_ok());
    assert!(VpcdClient::new("[::1]:35963").is_ok());
    for bad in [
        "127.0.0.1",
        ":35963",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "h:x",
    ] {
        assert!(
            matches!(VpcdClient::new(bad), Err(EmulatorError::VpcdAddress { .. })),
            "{bad}"
        );
    }
}
