//! DNS-01 answers (RFC 8555 section 8.4) by RFC 2136 updates signed with
//! TSIG, through `pinctl_dns`: pinctl's values are added to each
//! `_acme-challenge` TXT RRset, read back from the server before the CA
//! is told to look, and deleted afterwards, one by one: TXT records other
//! clients keep at the same name are left alone.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use pinctl_dns::{Name, RecordType, Server, TsigKey};

use crate::{DnsAnswer, Error};

/// TTL of the challenge records: short, they live for one order.
const TTL: u32 = 60;

/// How long the server may take to serve what was just updated.
const SERVED_WITHIN: Duration = Duration::from_secs(20);

/// Answers DNS-01 on one primary server with one key.
pub struct Rfc2136 {
    server: Server,
    key: TsigKey,
    /// The values set at each owner (a wildcard and its base share one).
    set: BTreeMap<String, (Name, Vec<String>)>,
}

fn dns_error(e: pinctl_dns::Error) -> Error {
    match e {
        pinctl_dns::Error::KeyFile { .. } | pinctl_dns::Error::Address { .. } => {
            Error::usage(e.to_string())
        }
        _ => Error::network(e.to_string()),
    }
}

impl Rfc2136 {
    /// Reads the key and the server address; nothing is sent yet.
    pub fn new(server: &str, key_file: &std::path::Path) -> Result<Rfc2136, Error> {
        let server = Server::parse(server).map_err(dns_error)?;
        let key = TsigKey::read(key_file).map_err(dns_error)?;
        Ok(Rfc2136 {
            server,
            key,
            set: BTreeMap::new(),
        })
    }

    /// The warning for a key file others may read (docs/security.md: the
    /// same TSIG key handling as dns channels); the caller shows it.
    pub fn key_warning(&self) -> Option<String> {
        self.key.permission_warning()
    }
}

impl DnsAnswer for Rfc2136 {
    fn present<'a>(
        &'a mut self,
        name: &'a str,
        value: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            let owner_text = format!("_acme-challenge.{name}");
            let owner = pinctl_dns::name(&owner_text).map_err(dns_error)?;
            let entry = self
                .set
                .entry(owner_text.clone())
                .or_insert_with(|| (owner.clone(), Vec::new()));
            entry.1.push(value.to_string());
            // Add only this value: other TXT records at the name (another
            // client's challenge) are not pinctl's to replace.
            pinctl_dns::add_txt(&self.server, &self.key, &owner, &[value.to_string()], TTL)
                .await
                .map_err(dns_error)?;
            let expected: Vec<_> = entry.1.iter().map(|v| pinctl_dns::txt(v)).collect();
            pinctl_dns::wait_for_records(
                &self.server,
                &owner,
                RecordType::TXT,
                &expected,
                SERVED_WITHIN,
            )
            .await
            .map_err(dns_error)?;
            Ok(())
        })
    }

    fn clean_up(&mut self) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + '_>> {
        Box::pin(async move {
            let mut first = None;
            for (owner, values) in std::mem::take(&mut self.set).into_values() {
                if let Err(e) =
                    pinctl_dns::delete_txt(&self.server, &self.key, &owner, &values).await
                {
                    first.get_or_insert(dns_error(e));
                }
            }
            first.map_or(Ok(()), Err)
        })
    }
}
