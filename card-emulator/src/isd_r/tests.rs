//! ISD-R tests.
