//! The certificate signing request a claim carries (PKCS #10 in PEM, as `esp-rainmaker-cli claim`
//! and the firmware's assisted claiming make it): only what the cloud must check before it asks
//! AWS IoT for a certificate, the common name of the subject, which is the node id the claim was
//! initiated for. AWS IoT checks the request's signature and key (`CreateCertificateFromCsr`).

use base64::Engine;

/// The largest request taken (an RSA-4096 request is under 2 KiB of PEM).
pub const MAX_PEM: usize = 8 * 1024;

/// `2.5.4.3`, the common name attribute, DER-encoded.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The DER of a PEM `CERTIFICATE REQUEST` (also `NEW CERTIFICATE REQUEST`).
pub fn der(pem: &str) -> Result<Vec<u8>, String> {
    if pem.len() > MAX_PEM {
        return Err(format!(
            "the CSR is {} bytes; at most {MAX_PEM} are taken",
            pem.len()
        ));
    }
    let begin = pem
        .find("-----BEGIN ")
        .filter(|_| pem.contains("CERTIFICATE REQUEST-----"))
        .ok_or("the CSR is not a PEM `CERTIFICATE REQUEST`")?;
    let body: String = pem[begin..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the CSR's PEM body is not base64: {e}"))
}

/// One DER element: (tag, content, what follows it).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value's content.
fn children(mut content: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, rest) = element(content)?;
        out.push((tag, value));
        content = rest;
    }
    Some(out)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;

/// The subject's common name: `CertificationRequest { info { version, subject, ... }, ... }`.
pub fn common_name(pem: &str) -> Result<String, String> {
    let der = der(pem)?;
    let malformed = || "the CSR is not a DER certification request".to_string();
    let (tag, request, rest) = element(&der).ok_or_else(malformed)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err(malformed());
    }
    let parts = children(request).ok_or_else(malformed)?;
    let (SEQUENCE, info) = *parts.first().ok_or_else(malformed)? else {
        return Err(malformed());
    };
    let info = children(info).ok_or_else(malformed)?;
    match (info.first(), info.get(1)) {
        (Some((INTEGER, _)), Some((SEQUENCE, subject))) => {
            let mut names = Vec::new();
            for (tag, rdn) in children(subject).ok_or_else(malformed)? {
                if tag != SET {
                    return Err(malformed());
                }
                for (tag, pair) in children(rdn).ok_or_else(malformed)? {
                    let pair = children(pair).filter(|_| tag == SEQUENCE);
                    if let Some([(OID, oid), (kind, value)]) = pair.as_deref() {
                        // UTF8String, PrintableString, IA5String
                        if *oid == COMMON_NAME && [0x0c, 0x13, 0x16].contains(kind) {
                            names.push(String::from_utf8(value.to_vec()).map_err(|_| malformed())?);
                        }
                    }
                }
            }
            match names.as_slice() {
                [one] => Ok(one.clone()),
                [] => {
                    Err("the CSR's subject has no common name (CN): it must be the node id".into())
                }
                _ => Err("the CSR's subject has more than one common name (CN)".into()),
            }
        }
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -new -key <P-256 key> -subj "/CN=9C9E6E2A1B2C"`.
    const WITH_CN: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHSMHkCAQAwFzEVMBMGA1UEAwwMOUM5RTZFMkExQjJDMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEvjC9fFu1u3TkV3AFIp9V6s+OXohGO5t82/kQjhBwiV6/0jXU
mTSKoSuwq20FH/p1IeomBH+94Fnq3v/yxGwVs6AAMAoGCCqGSM49BAMCA0kAMEYC
IQC8riI3YFLvc/p6zwASPhCmZAkxM6QDpHOuZyJtaPvNAwIhAPGjqHZhcRiR8Kl8
rDs3846T3HmNBmfpNZFgTLWnkk+y
-----END CERTIFICATE REQUEST-----
";

    /// The same key, `-subj "/O=Acme"`: no common name.
    const WITHOUT_CN: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHJMHECAQAwDzENMAsGA1UECgwEQWNtZTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABL4wvXxbtbt05FdwBSKfVerPjl6IRjubfNv5EI4QcIlev9I11Jk0iqErsKtt
BR/6dSHqJgR/veBZ6t7/8sRsFbOgADAKBggqhkjOPQQDAgNIADBFAiAZbj/t/0TB
CjFEsoQ8AbWHTawYMsSTwzG2tiGXJI7PiAIhANb7oHcBuiCxiYLPVwkvILH7YFIB
3GddudCKAs047juh
-----END CERTIFICATE REQUEST-----
";

    #[test]
    fn the_common_name_is_read_from_the_subject() {
        assert_eq!(common_name(WITH_CN).unwrap(), "9C9E6E2A1B2C");
        // as the CLI sends it: one JSON string, lines joined by `\n`
        assert_eq!(
            common_name(&WITH_CN.replace('\n', "\r\n")).unwrap(),
            "9C9E6E2A1B2C"
        );
    }

    #[test]
    fn a_request_without_a_common_name_or_not_a_request_is_refused() {
        assert!(common_name(WITHOUT_CN)
            .unwrap_err()
            .contains("no common name"));
        assert!(common_name("hello").unwrap_err().contains("not a PEM"));
        let truncated = WITH_CN.replace("rDs3846T3HmNBmfpNZFgTLWnkk+y\n", "");
        assert!(common_name(&truncated).is_err());
        let cert = WITH_CN.replace("CERTIFICATE REQUEST", "CERTIFICATE");
        assert!(common_name(&cert).is_err());
        assert!(common_name(&"A".repeat(MAX_PEM + 1))
            .unwrap_err()
            .contains("at most"));
    }
}
