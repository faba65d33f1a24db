//! The card's non-volatile memory as the applications see it: the [`CardState`] behind a flag
//! that tells the runtime it changed and must be persisted. Every application (ECASD, ISD-R,
//! ISD-Ps, the OTA layer) reaches the state through it; it depends on the state alone.

use crate::state::CardState;

/// The card's non-volatile state, with a flag telling the runtime that it must be persisted.
#[derive(Debug)]
pub struct Nv {
    state: CardState,
    dirty: bool,
}

impl Nv {
    /// The state of a card just loaded, unchanged.
    pub fn new(state: CardState) -> Self {
        Self {
            state,
            dirty: false,
        }
    }

    /// Whether the state changed since the last call (and clears the flag).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Read access.
    pub fn get(&self) -> &CardState {
        &self.state
    }

    /// Write access; marks the state as changed.
    pub fn get_mut(&mut self) -> &mut CardState {
        self.dirty = true;
        &mut self.state
    }

    /// Write access that leaves the changed flag alone (the caller calls
    /// [`Nv::mark_dirty`] if it did change something).
    pub(crate) fn peek_mut(&mut self) -> &mut CardState {
        &mut self.state
    }

    /// Marks the state as changed.
    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }
}
