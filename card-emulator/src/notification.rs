//! The card's queue of notifications to the SM-SR (GSMA SGP.02 §4.1.1.11, §4.1.1.12): each
//! with a sequence number, kept until the SM-SR confirms it with HandleNotificationConfirmation.
//!
//! The message itself is smsr-proto's [`Notification`] (`E1 { 4C EID, 4D type, 4E sequence,
//! 2F ISD-P AID }`; no IMEI/MEID: the emulator has no device). How the SM-SR reads them over
//! PC/SC and what the types mean: [`smsr_proto::sgp02::codings`].

use smsr_proto::gp::Aid;
use smsr_proto::sgp02::codings::NOTIFICATION_QUEUE_MAX;
use smsr_proto::sgp02::{Notification, NotificationType};
use std::collections::VecDeque;

/// One unconfirmed notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingNotification {
    pub sequence: u16,
    pub kind: NotificationType,
    /// The ISD-P the notification is about (the enabled one after a change).
    pub isd_p: Option<Aid>,
    /// The ISD-P the change disabled: deleted on confirmation if its POL1 says "delete when
    /// disabled". Card-internal, not part of the message.
    pub disabled: Option<Aid>,
}

impl PendingNotification {
    /// The `E1` message of this notification from the card with `eid`.
    pub fn message(&self, eid: [u8; 16]) -> Notification {
        Notification {
            eid,
            kind: self.kind,
            sequence: self.sequence,
            isd_p: self.isd_p.clone(),
            imei: None,
            meid: None,
        }
    }
}

/// The queue of unconfirmed notifications, oldest first, and the next sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifications {
    queue: VecDeque<PendingNotification>,
    next_sequence: u16,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            next_sequence: 1,
        }
    }
}

impl Notifications {
    /// The queue of a new card: the eUICC declaration (type `01`, sequence `0001`), standing
    /// for the first network attach the emulator never makes (see
    /// [`smsr_proto::sgp02::codings::NOTIFICATION_EUICC_DECLARATION`]).
    pub(crate) fn declaration() -> Self {
        let mut q = Self::default();
        q.push(NotificationType::EuiccDeclaration, None, None);
        q
    }

    /// A queue read back from the state file (at most [`NOTIFICATION_QUEUE_MAX`] entries are
    /// kept, the newest).
    pub(crate) fn from_parts(queue: Vec<PendingNotification>, next_sequence: u16) -> Self {
        let skip = queue.len().saturating_sub(NOTIFICATION_QUEUE_MAX);
        Self {
            queue: queue.into_iter().skip(skip).collect(),
            next_sequence: next_sequence.max(1),
        }
    }

    /// Queues a notification with the next sequence number (numbers run from `0001` to `FFFF`
    /// and wrap to `0001`); the oldest one goes when the queue is full. Returns the number.
    pub(crate) fn push(
        &mut self,
        kind: NotificationType,
        isd_p: Option<Aid>,
        disabled: Option<Aid>,
    ) -> u16 {
        let sequence = self.next_sequence;
        self.next_sequence = sequence.checked_add(1).unwrap_or(1);
        if self.queue.len() >= NOTIFICATION_QUEUE_MAX {
            self.queue.pop_front();
        }
        self.queue.push_back(PendingNotification {
            sequence,
            kind,
            isd_p,
            disabled,
        });
        sequence
    }

    /// Removes and returns the notification with this sequence number.
    pub(crate) fn confirm(&mut self, sequence: u16) -> Option<PendingNotification> {
        let at = self.queue.iter().position(|n| n.sequence == sequence)?;
        self.queue.remove(at)
    }

    /// The unconfirmed notifications, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &PendingNotification> {
        self.queue.iter()
    }

    /// The oldest unconfirmed notification.
    pub fn oldest(&self) -> Option<&PendingNotification> {
        self.queue.front()
    }

    /// The sequence number the next notification gets.
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// Forgets the ISD-P `aid` as a deletion candidate (it was deleted already).
    pub(crate) fn forget_disabled(&mut self, aid: &Aid) {
        for n in &mut self.queue {
            if n.disabled.as_ref() == Some(aid) {
                n.disabled = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_of_a_pending_notification() {
        let n = PendingNotification {
            sequence: 0x0102,
            kind: NotificationType::ProfileChangeSucceeded,
            isd_p: Some(Aid::isd_p(0x10).unwrap()),
            disabled: Some(Aid::isd_p(0x11).unwrap()),
        };
        let eid = [0x89u8; 16];
        assert_eq!(
            hex::encode_upper(n.message(eid).to_bytes()),
            format!(
                "E12B4C10{}4D01024E0201022F10A0000005591010FFFFFFFF8900001000",
                "89".repeat(16)
            )
        );
    }

    #[test]
    fn sequence_numbers_wrap_and_queue_is_bounded() {
        let change = NotificationType::ProfileChangeSucceeded;
        let fallback = NotificationType::ProfileChangeAfterFallback;
        let mut q = Notifications::from_parts(Vec::new(), 0xFFFF);
        assert_eq!(q.push(change, None, None), 0xFFFF);
        assert_eq!(q.push(change, None, None), 1);
        for _ in 0..NOTIFICATION_QUEUE_MAX {
            q.push(fallback, None, None);
        }
        assert_eq!(q.pending().count(), NOTIFICATION_QUEUE_MAX);
        assert_eq!(q.oldest().unwrap().sequence, 2);
        assert!(
            q.confirm(0xFFFF).is_none(),
            "dropped when the queue was full"
        );
        assert_eq!(q.confirm(3).unwrap().kind, fallback);
        assert!(q.confirm(3).is_none());
        assert_eq!(q.pending().count(), NOTIFICATION_QUEUE_MAX - 1);
        assert_eq!(Notifications::from_parts(Vec::new(), 0).next_sequence(), 1);
    }
}
