//! One DNS question to one authoritative name server (UDP, no recursion): what the zone
//! itself answers for a name, before any resolver cache. The wire format is hickory-proto's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// The query for `name`'s A records, id `id`, recursion not desired.
pub fn a_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(name).map_err(|e| format!("{name}: {e}"))?;
    let mut m = Message::new();
    m.set_id(id).set_message_type(MessageType::Query).set_op_code(OpCode::Query).set_recursion_desired(false);
    m.add_query(Query::query(name, RecordType::A));
    m.to_vec().map_err(|e| e.to_string())
}

/// The A addresses of an answer to query `id` (an empty list for NXDOMAIN or no data).
pub fn a_answer(id: u16, bytes: &[u8]) -> Result<Vec<IpAddr>, String> {
    let m = Message::from_vec(bytes).map_err(|e| format!("not a DNS answer: {e}"))?;
    if m.id() != id || m.message_type() != MessageType::Response {
        return Err(format!("answer to another question (id {} instead of {id})", m.id()));
    }
    match m.response_code() {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => return Err(format!("the name server answered {other}")),
    }
    let mut ips: Vec<IpAddr> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect();
    ips.sort();
    ips.dedup();
    Ok(ips)
}

/// Asks `server` (a name server's address and port, 53) for `name`'s A records; bounded by
/// `limit`.
pub async fn ask(server: SocketAddr, name: &str, limit: Duration) -> Result<Vec<IpAddr>, String> {
    let id = (std::process::id() as u16) ^ (name.len() as u16).rotate_left(8);
    let query = a_query(id, name)?;
    let bind: SocketAddr = if server.ip().is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let exchange = async {
        let socket = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
        socket.connect(server).await.map_err(|e| e.to_string())?;
        socket.send(&query).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 4096];
        // A stray datagram of another id is skipped; at most a few.
        for _ in 0..4 {
            let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
            match a_answer(id, &buf[..n]) {
                Err(e) if e.starts_with("answer to another question") => continue,
                other => return other,
            }
        }
        Err("no answer to this question".to_string())
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(r) => r.map_err(|e| format!("{server}: {e}")),
        Err(_) => Err(format!("{server}: no answer within {} s", limit.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{rdata::A, Record};

    fn answer(id: u16, name: &str, ips: &[[u8; 4]], code: ResponseCode) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(id).set_message_type(MessageType::Response).set_response_code(code);
        let n = Name::from_ascii(name).expect("name");
        m.add_query(Query::query(n.clone(), RecordType::A));
        for ip in ips {
            m.add_answer(Record::from_rdata(n.clone(), 60, RData::A(A::new(ip[0], ip[1], ip[2], ip[3]))));
        }
        m.to_vec().expect("encode")
    }

    #[test]
    fn the_query_asks_for_a_records_without_recursion() {
        let q = Message::from_vec(&a_query(7, "api.example.test.").expect("query")).expect("decode");
        assert_eq!(q.id(), 7);
        assert!(!q.recursion_desired());
        assert_eq!(q.queries()[0].query_type(), RecordType::A);
        assert_eq!(q.queries()[0].name().to_ascii(), "api.example.test.");
    }

    #[test]
    fn answers_give_their_addresses_and_errors_are_named() {
        let ok = answer(9, "api.example.test.", &[[192, 0, 2, 2], [192, 0, 2, 1], [192, 0, 2, 2]], ResponseCode::NoError);
        assert_eq!(a_answer(9, &ok).expect("parsed"), vec![IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2])]);
        assert!(a_answer(10, &ok).expect_err("other id").contains("another question"));
        assert!(a_answer(9, &answer(9, "x.test.", &[], ResponseCode::NXDomain)).expect("nxdomain").is_empty());
        assert!(a_answer(9, &answer(9, "x.test.", &[], ResponseCode::Refused)).expect_err("refused").contains("Refused"));
        assert!(a_answer(9, b"\\x01").is_err());
    }

    #[tokio::test]
    async fn a_name_server_that_does_not_answer_is_bounded() {
        // A loopback UDP socket that reads nothing: the question times out.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let at = silent.local_addr().expect("addr");
        let started = std::time::Instant::now();
        let e = ask(at, "api.example.test.", Duration::from_millis(300)).await.expect_err("nobody answers");
        assert!(e.contains("no answer within"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
