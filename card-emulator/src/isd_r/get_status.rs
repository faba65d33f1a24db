//! GET STATUS on the ISD-R (GPCS v2.3.1 §11.4): the registry entries of P1 `80` (the ISD-R;
//! the AID criterion is not applied), `40` (ECASD, ISD-Ps), `20` and `10` (the ISD-P load file,
//! with its module for `10`), in the `E3` format (P2 b2 = 1) or the legacy one, filtered by
//! the `4F` AID prefix (`4F 00`: all).
//!
//! The answer is cut at entry boundaries into pages of at most [`GET_STATUS_PAGE_MAX`] bytes;
//! every page but the last ends with `6310` and the host asks for the next one with P2 b1 set,
//! the same P1 and format. Any other command in between drops the remaining pages. No matching
//! entry, or a "next" without pages left: `6A88`. Search criteria other than `4F` (and a
//! tag list `5C`, which is accepted and ignored: every entry has all its objects): `6A80`.

use crate::state::CardState;
use smsr_proto::gp::get_status::{ResponseFormat, StatusScope};
use smsr_proto::gp::{GetStatus, GpError};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};
use std::collections::VecDeque;

/// Largest page of GET STATUS response data: with R-ENCRYPTION padding (to 240) and a 16-byte
/// R-MAC the protected response still fits 256 bytes.
pub const GET_STATUS_PAGE_MAX: usize = 224;

/// Pages of a GET STATUS answer not sent yet.
#[derive(Debug)]
pub(super) struct Paging {
    scope: StatusScope,
    format: ResponseFormat,
    pages: VecDeque<Vec<u8>>,
}

pub(super) fn process(
    paging: &mut Option<Paging>,
    state: &CardState,
    cmd: &CommandApdu,
) -> ResponseApdu {
    let request = match GetStatus::from_apdu(cmd) {
        Ok(r) => r,
        Err(GpError::WrongParameters { .. }) => {
            *paging = None;
            return ResponseApdu::status(StatusWord::IncorrectP1P2);
        }
        Err(_) => {
            *paging = None;
            return ResponseApdu::status(StatusWord::IncorrectData);
        }
    };
    if !request.criteria.is_empty() {
        *paging = None;
        return ResponseApdu::status(StatusWord::IncorrectData);
    }
    let mut pages = if request.next {
        match paging.take() {
            Some(p) if p.scope == request.scope && p.format == request.format => p.pages,
            _ => return ResponseApdu::status(StatusWord::ReferencedDataNotFound),
        }
    } else {
        let entries = state.registry().status(request.scope, &request.aid_prefix);
        if entries.is_empty() {
            *paging = None;
            return ResponseApdu::status(StatusWord::ReferencedDataNotFound);
        }
        request.response_pages(&entries, GET_STATUS_PAGE_MAX).into()
    };
    let Some(page) = pages.pop_front() else {
        *paging = None;
        return ResponseApdu::status(StatusWord::ReferencedDataNotFound);
    };
    if pages.is_empty() {
        *paging = None;
        ResponseApdu::success(page)
    } else {
        *paging = Some(Paging {
            scope: request.scope,
            format: request.format,
            pages,
        });
        ResponseApdu::new(page, StatusWord::MoreDataAvailable)
    }
}
