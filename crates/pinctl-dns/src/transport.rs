//! One request, one reply: the encoded message over UDP, retried within
//! the server's timeout, and over TCP when the reply is truncated
//! (RFC 1035 section 4.2). Encoding, decoding and TSIG are hickory-proto's.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::TSigner;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

use crate::{Error, Server};

/// How often an unanswered UDP request is sent again.
const RETRY: Duration = Duration::from_millis(1000);

fn network(server: &Server, e: impl std::fmt::Display) -> Error {
    Error::Network {
        server: server.to_string(),
        problem: e.to_string(),
    }
}

fn malformed(server: &Server, problem: impl Into<String>) -> Error {
    Error::Malformed {
        server: server.to_string(),
        problem: problem.into(),
    }
}

pub(crate) async fn resolve(server: &Server, deadline: Instant) -> Result<SocketAddr, Error> {
    let found = timeout_at(
        deadline,
        tokio::net::lookup_host((server.host().to_string(), server.port())),
    )
    .await
    .map_err(|_| Error::Timeout {
        server: server.to_string(),
        after: server.timeout(),
    })?
    .map_err(|e| Error::Address {
        server: server.to_string(),
        problem: format!("cannot resolve the host: {e}"),
    })?;
    let mut addrs: Vec<SocketAddr> = found.collect();
    addrs.sort_by_key(|a| !a.is_ipv4()); // IPv4 first: loopback setups
    addrs.first().copied().ok_or_else(|| Error::Address {
        server: server.to_string(),
        problem: "the host has no address".into(),
    })
}

/// Sends `request` (signed with `signer` if given) and returns the reply.
/// A successful reply to a signed request must carry a valid TSIG from the
/// same key; an error reply may be unsigned (a server that does not know
/// the key cannot sign, RFC 8945 section 5.3.2).
pub(crate) async fn exchange(
    server: &Server,
    mut request: Message,
    signer: Option<&TSigner>,
) -> Result<Message, Error> {
    let deadline = Instant::now() + server.timeout();
    let addr = resolve(server, deadline).await?;
    let mut verifier = match signer {
        Some(s) => request
            .finalize(s, crate::now())
            .map_err(|e| malformed(server, format!("cannot sign the request: {e}")))?,
        None => None,
    };
    let bytes = request
        .to_vec()
        .map_err(|e| malformed(server, format!("cannot encode the request: {e}")))?;
    let mut reply = udp(server, addr, &bytes, request.metadata.id, deadline).await?;
    let mut reply_bytes = reply.1;
    if reply.0.metadata.truncation {
        reply = tcp(server, addr, &bytes, request.metadata.id, deadline).await?;
        reply_bytes = reply.1;
    }
    let reply = reply.0;
    if let Some(v) = verifier.as_mut() {
        if reply.metadata.response_code == hickory_proto::op::ResponseCode::NoError {
            v.verify(&reply_bytes).map_err(|e| {
                malformed(
                    server,
                    format!("the reply is not signed by the TSIG key ({e})"),
                )
            })?;
        }
    }
    Ok(reply)
}

fn decode(server: &Server, id: u16, buf: &[u8]) -> Result<Option<Message>, Error> {
    let m = match Message::from_vec(buf) {
        Ok(m) => m,
        // Not a DNS message: ignore it as a stray datagram.
        Err(_) => return Ok(None),
    };
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return Ok(None);
    }
    if m.queries.len() > 1 {
        return Err(malformed(server, "the reply has several questions"));
    }
    Ok(Some(m))
}

async fn udp(
    server: &Server,
    addr: SocketAddr,
    bytes: &[u8],
    id: u16,
    deadline: Instant,
) -> Result<(Message, Vec<u8>), Error> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(local)
        .await
        .map_err(|e| network(server, e))?;
    sock.connect(addr).await.map_err(|e| network(server, e))?;
    let mut buf = vec![0u8; 65535];
    loop {
        sock.send(bytes).await.map_err(|e| network(server, e))?;
        let retry_at = (Instant::now() + RETRY).min(deadline);
        loop {
            match timeout_at(retry_at, sock.recv(&mut buf)).await {
                Err(_) => break, // send again, or give up at the deadline
                Ok(Err(e)) => return Err(network(server, e)),
                Ok(Ok(n)) => {
                    if let Some(m) = decode(server, id, &buf[..n])? {
                        return Ok((m, buf[..n].to_vec()));
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                server: server.to_string(),
                after: server.timeout(),
            });
        }
    }
}

async fn tcp(
    server: &Server,
    addr: SocketAddr,
    bytes: &[u8],
    id: u16,
    deadline: Instant,
) -> Result<(Message, Vec<u8>), Error> {
    let timeout = || Error::Timeout {
        server: server.to_string(),
        after: server.timeout(),
    };
    let run = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| network(server, e))?;
        let len =
            u16::try_from(bytes.len()).map_err(|_| malformed(server, "the request is too long"))?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(bytes);
        s.write_all(&framed).await.map_err(|e| network(server, e))?;
        loop {
            let mut len = [0u8; 2];
            s.read_exact(&mut len)
                .await
                .map_err(|e| network(server, e))?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut buf)
                .await
                .map_err(|e| network(server, e))?;
            if let Some(m) = decode(server, id, &buf)? {
                return Ok((m, buf));
            }
        }
    };
    timeout_at(deadline, run).await.map_err(|_| timeout())?
}
