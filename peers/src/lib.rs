//! Nothing to link: this crate holds the `peers` bench (`cargo bench -p peers`),
//! which times Tally's verify beside a bare SHA-256, a JWT and a Biscuit.
