//! Names for listings: record content types (RFC 5246 §6.2.1), handshake message types
//! (§7.4), alert descriptions (§7.2; RFC 4279 §7 for unknown_psk_identity).

use super::record::content;

/// A record content type's name.
pub fn content_type_name(t: u8) -> &'static str {
    match t {
        content::CHANGE_CIPHER_SPEC => "change_cipher_spec",
        content::ALERT => "alert",
        content::HANDSHAKE => "handshake",
        content::APPLICATION_DATA => "application_data",
        _ => "unknown",
    }
}

/// A handshake message type's name (RFC 5246 §7.4).
pub fn handshake_name(t: u8) -> &'static str {
    match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        4 => "new_session_ticket",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        _ => "unknown",
    }
}

/// An alert description's name (RFC 5246 §7.2, RFC 4279 §7 for unknown_psk_identity).
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        110 => "unsupported_extension",
        115 => "unknown_psk_identity",
        _ => "unknown",
    }
}
