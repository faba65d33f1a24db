//! smsr: the SM-SR and SM-DP of GSMA SGP.02 at APDU level.
