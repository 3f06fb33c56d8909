//! The request encoder of the host's hot path: [`encode_request_into`]
//! writes a request (borrowed, as a [`ReqRef`]) as postcard lays out
//! [`wire::Req`](super::wire::Req), byte for byte, without going through
//! serde.
//!
//! Why by hand: a driver encodes one request per check, and through serde
//! and postcard that was a fifth of a whole native `verify`, mostly
//! per-field dispatch and a `memcpy` call per name; this writer takes a
//! fraction of that (BENCHMARKS.md). The layout is postcard's and stays defined by
//! [`wire::ReqRef`](super::wire::ReqRef): the property tests below hold
//! this writer to `postcard::to_slice(&ReqRef)` for every request, in
//! bytes and in what fits.

use super::wire::ReqRef;
use crate::grant::Api;

/// Encodes `request` into `out`: the number of bytes written, or `None` when
/// they do not fit (`out` may then hold a partial encoding).
pub(crate) fn encode_request_into(request: &ReqRef<'_>, out: &mut [u8]) -> Option<usize> {
    let mut w = Writer { out, at: 0 };
    w.byte(match request.api {
        Api::Content => 0,
        Api::Management => 1,
    })?;
    w.str(request.action)?;
    for name in [
        request.environment_id,
        request.model,
        request.stage,
        request.locale,
    ] {
        w.option(name, Writer::str)?;
    }
    w.option(request.document, |w, document| {
        w.varint(document.len() as u64)?;
        document.iter().try_for_each(|(field, value)| {
            w.str(field)?;
            w.str(value)
        })
    })?;
    w.varint(request.sensitive_fields.len() as u64)?;
    request
        .sensitive_fields
        .iter()
        .try_for_each(|name| w.str(name))?;
    // zigzag, as postcard writes a signed integer
    w.varint(((request.now << 1) ^ (request.now >> 63)) as u64)?;
    Some(w.at)
}

/// Writes at `at` into `out`, refusing what does not fit.
struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn byte(&mut self, byte: u8) -> Option<()> {
        *self.out.get_mut(self.at)? = byte;
        self.at += 1;
        Some(())
    }

    /// An unsigned LEB128 varint (postcard's for every unsigned integer and
    /// length: the fewest bytes).
    fn varint(&mut self, mut value: u64) -> Option<()> {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.byte(value as u8)
    }

    fn str(&mut self, text: &str) -> Option<()> {
        let bytes = text.as_bytes();
        self.varint(bytes.len() as u64)?;
        let end = self.at.checked_add(bytes.len())?;
        let room = self.out.get_mut(self.at..end)?;
        // Names are short: a loop the compiler keeps inline beats a call
        // to `memcpy` for each.
        if bytes.len() <= 16 {
            room.iter_mut()
                .zip(bytes)
                .for_each(|(to, from)| *to = *from);
        } else {
            room.copy_from_slice(bytes);
        }
        self.at = end;
        Some(())
    }

    fn option<T>(
        &mut self,
        value: Option<T>,
        write: impl FnOnce(&mut Self, T) -> Option<()>,
    ) -> Option<()> {
        match value {
            None => self.byte(0),
            Some(value) => {
                self.byte(1)?;
                write(self, value)
            }
        }
    }
}

// proptest is a native dev-dependency (the browser tests are tests/browser.rs).
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use alloc::string::String;
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;
    use crate::grant::Action;
    use crate::request::Request;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9_]{0,12}",
            2 => "\\PC{0,20}",
            1 => "[a-z]{120,300}",
        ]
    }

    /// Requests with every field set or not, names of every length class
    /// (see `name`), and any time.
    fn request() -> impl Strategy<Value = Request> {
        (
            prop_oneof![Just(Api::Content), Just(Api::Management)],
            prop_oneof!["read", "publish", "[a-z]{1,20}"],
            proptest::option::of(name()),
            proptest::option::of(name()),
            proptest::option::of(name()),
            proptest::option::of(name()),
            proptest::option::of(proptest::collection::btree_map(name(), name(), 0..4)),
            proptest::collection::vec(name(), 0..4),
            any::<i64>(),
        )
            .prop_map(
                |(api, action, env, model, stage, locale, document, fields, now)| {
                    let mut r = Request::new(api, action.parse::<Action>().unwrap(), now);
                    r.environment_id = env;
                    r.model = model;
                    r.stage = stage;
                    r.locale = locale;
                    r.document = document;
                    r.sensitive_fields = fields;
                    r
                },
            )
    }

    fn postcard_into(request: &Request, out: &mut [u8]) -> Option<usize> {
        postcard::to_slice(&ReqRef::from(request), out)
            .ok()
            .map(|written| written.len())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// Same bytes as postcard, and the same answer about what fits, for
        /// every room from nothing to more than enough.
        #[test]
        fn writes_what_postcard_writes(request in request(), room in any::<prop::sample::Index>()) {
            let expected = postcard::to_allocvec(&ReqRef::from(&request)).unwrap();
            let mut out = vec![0u8; expected.len() + 8];
            let n = encode_request_into(&ReqRef::from(&request), &mut out);
            prop_assert_eq!(n, Some(expected.len()));
            prop_assert_eq!(&out[..expected.len()], &expected[..]);

            let size = room.index(expected.len() + 2);
            let (mut ours, mut theirs) = (vec![0u8; size], vec![0u8; size]);
            prop_assert_eq!(
                encode_request_into(&ReqRef::from(&request), &mut ours),
                postcard_into(&request, &mut theirs)
            );
        }
    }

    #[test]
    fn extreme_times_and_long_names_match_postcard() {
        for now in [0, -1, 1, i64::MIN, i64::MAX, 1_800_000_000] {
            for len in [0usize, 127, 128, 16_383, 16_384] {
                let mut request = Request::new(Api::Content, Action::READ, now);
                request.environment_id = Some("x".repeat(len));
                let expected = postcard::to_allocvec(&ReqRef::from(&request)).unwrap();
                let mut out = vec![0u8; expected.len()];
                assert_eq!(
                    encode_request_into(&ReqRef::from(&request), &mut out),
                    Some(out.len())
                );
                assert_eq!(out, expected);
            }
        }
    }
}
