//! The shared funnel report.
