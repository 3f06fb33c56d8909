//! The driver's in-place reader of a module's `verify` output
//! (`abi::decode_verify_view`, hand-written) accepts exactly the bytes
//! postcard accepts as a `VerifyResult`, and reads the same decision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verifier_core::Decision;
use verifier_core::abi::{self, AbiError, wire::VerifyResult};

fuzz_target!(|data: &[u8]| {
    let postcard = match postcard::take_from_bytes::<VerifyResult>(data) {
        Ok((value, [])) => Some(value),
        _ => None,
    };
    match (abi::decode_verify_view(data), postcard) {
        (Ok(view), Some(VerifyResult::Decision(d))) => {
            assert_eq!(view.to_decision(), Decision::from(d));
        }
        (Err(AbiError::BadInput(ours)), Some(VerifyResult::BadInput(theirs))) => {
            assert_eq!(ours, theirs);
        }
        (Err(AbiError::BadOutput), None) => {}
        (ours, theirs) => panic!("the reader read {ours:?}, postcard {theirs:?}"),
    }
});
