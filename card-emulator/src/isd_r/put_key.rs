//! PUT KEY on the ISD-R (GPCS v2.3.1 §11.8; Amendment D §6.2.8 for the AES key data).
//!
//! Only whole SCP03 key sets are loaded: P2 `81` (several keys, the first with Key
//! Identifier 1) and three AES key data fields, ENC, MAC and DEK, of one length, each encrypted with the
//! static Key-DEK of the key set the session was opened with and carrying its KCV. P1 `00`
//! adds a key set with the new KVN; P1 = an existing KVN replaces that key set, at its place
//! in the list, by the new one (whose KVN may differ: the old KVN is gone), keeping the key
//! length (§11.8.2.2: a key's type and length do not change). Either way the new key set's
//! sequence counter starts at 0. The response is the new KVN and the three KCVs
//! (§11.8.2.3).
//!
//! Errors: chained command (P1 b8), other P2: `6A86`; malformed key data, another key type,
//! mismatching KCV, a new KVN already in use by another key set, another key length on
//! replacement: `6A80`; P1 names no key set: `6A88`; more than [`MAX_KEYSETS`]: `6A84`; the
//! session's own key set was replaced earlier in the session (no Key-DEK left): `6985`.

use crate::nv::Nv;
use smsr_proto::gp::{GpError, PutKey};
use smsr_proto::scp03::put_key::{decode_put_key_data, PutKeyResponse};
use smsr_proto::scp03::{AesKey, StaticKeys};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// Most key sets the ISD-R holds.
pub const MAX_KEYSETS: usize = 8;

/// P2 for ENC, MAC, DEK in one command: several keys, first Key Identifier 1.
const P2_KEY_SET: u8 = 0x81;

pub(super) fn process(nv: &mut Nv, session_kvn: u8, cmd: &CommandApdu) -> ResponseApdu {
    match put_key(nv, session_kvn, cmd) {
        Ok(data) => ResponseApdu::success(data),
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn put_key(nv: &mut Nv, session_kvn: u8, cmd: &CommandApdu) -> Result<Vec<u8>, StatusWord> {
    let framing = PutKey::from_apdu(cmd).map_err(|e| match e {
        GpError::WrongParameters { .. } => StatusWord::IncorrectP1P2,
        _ => StatusWord::IncorrectData,
    })?;
    if cmd.p2 != P2_KEY_SET {
        return Err(StatusWord::IncorrectP1P2);
    }
    if framing.keys.len() != 3 {
        return Err(StatusWord::IncorrectData);
    }
    let state = nv.get();
    let dek = state
        .scp03()
        .keyset(session_kvn)
        .map(|k| k.dek().clone())
        .ok_or(StatusWord::ConditionsOfUseNotSatisfied)?;
    let (new_kvn, keys) =
        decode_put_key_data(&dek, &cmd.data).map_err(|_| StatusWord::IncorrectData)?;
    let [enc, mac, key_dek]: [AesKey; 3] =
        keys.try_into().map_err(|_| StatusWord::IncorrectData)?;
    let new =
        StaticKeys::from_keys(new_kvn, enc, mac, key_dek).map_err(|_| StatusWord::IncorrectData)?;
    let kvns = state.kvns();
    let replace = cmd.p1;
    if replace == 0 {
        if kvns.contains(&new_kvn) {
            return Err(StatusWord::IncorrectData);
        }
        if kvns.len() >= MAX_KEYSETS {
            return Err(StatusWord::NotEnoughMemory);
        }
    } else {
        let old = state
            .scp03()
            .keyset(replace)
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        if old.length() != new.length() {
            return Err(StatusWord::IncorrectData);
        }
        if new_kvn != replace && kvns.contains(&new_kvn) {
            return Err(StatusWord::IncorrectData);
        }
    }
    let response = PutKeyResponse::for_keys(&new).to_bytes();
    let state = nv.get_mut();
    if replace == 0 {
        state.add_keyset(new);
    } else {
        state.replace_keyset(replace, new);
    }
    Ok(response)
}
