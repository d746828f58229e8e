//! Feeds arbitrary bytes to the RPC message decoder virtkitd reads every client with: the
//! framing (`read_message`: length word, cap, then the bytes), the header (`Message::decode`)
//! and the records every program shares (the error record, domain and network references).
//! It may refuse, never panic or allocate past what the input holds; whatever decodes encodes
//! back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtkit_rpc::xdr::{Decoder, Encoder};
use virtkit_rpc::{Message, RemoteError, WireDomain, WireNetwork, read_message};

fuzz_target!(|data: &[u8]| {
    let mut stream = data;
    while let Ok(Some(bytes)) = read_message(&mut stream) {
        let Ok(m) = Message::decode(&bytes) else { break };
        let again = Message::encode(&m.header, &m.payload).expect("it fitted before");
        assert_eq!(again, bytes);
        let mut d = Decoder::new(&m.payload);
        if let Ok(e) = RemoteError::decode(&mut d) {
            let mut enc = Encoder::new();
            e.encode(&mut enc);
            assert_eq!(enc.into_bytes(), m.payload[..m.payload.len() - d.remaining()]);
        }
        let mut d = Decoder::new(&m.payload);
        while let Ok(dom) = WireDomain::decode(&mut d) {
            let _ = dom;
        }
        let mut d = Decoder::new(&m.payload);
        let _ = WireNetwork::decode(&mut d);
        let _ = d.array_len(virtkit_rpc::LIST_MAX, 4);
        let _ = d.opt_string(virtkit_rpc::STRING_MAX);
    }
});
