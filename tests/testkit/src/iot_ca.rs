//! AWS IoT's `CreateCertificateFromCsr` as AWS plays it, for the one part moto gets wrong: moto
//! issues its certificate for a fresh key of its own, not the CSR's, so a node could never use it.
//! Here the CSR's own key is certified by a test CA made per proxy, and the certificate is then
//! registered with moto (`RegisterCertificateWithoutCA`, active) so that everything after it
//! (attaching policies and things, revoking, describing) is moto's. The answer has AWS's shape:
//! `{"certificateArn", "certificateId", "certificatePem"}`.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType,
    IsCa, KeyPair,
};

use super::faults::{forward, Request};

pub struct IotCa(CertifiedIssuer<'static, KeyPair>);

impl Default for IotCa {
    fn default() -> Self {
        Self::new()
    }
}

impl IotCa {
    pub fn new() -> IotCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            "rmdeploy test stand-in for the AWS IoT CA",
        );
        IotCa(CertifiedIssuer::self_signed(params, key).expect("a self-signed CA"))
    }

    /// The CA's certificate (PEM), which every certificate issued here chains to.
    pub fn pem(&self) -> String {
        self.0.pem()
    }

    /// The answer to `req` when it is `CreateCertificateFromCsr` (`POST /certificates`), else
    /// `None`: the raw HTTP answer to send back.
    pub fn answer(&self, req: &Request, upstream: &str) -> Option<Vec<u8>> {
        let mut parts = req.line.split_whitespace();
        let (method, path) = (parts.next()?, parts.next()?);
        if method != "POST" || path.split('?').next() != Some("/certificates") {
            return None;
        }
        Some(self.create(req, path, upstream))
    }

    fn create(&self, req: &Request, path: &str, upstream: &str) -> Vec<u8> {
        let fail = |status: u16, kind: &str, message: String| {
            let body = serde_json::json!({"message": message}).to_string();
            format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nx-amzn-ErrorType: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
        };
        let doc: serde_json::Value = match serde_json::from_slice(&req.body) {
            Ok(d) => d,
            Err(e) => return fail(400, "InvalidRequestException", format!("body: {e}")),
        };
        let Some(csr) = doc["certificateSigningRequest"].as_str() else {
            return fail(
                400,
                "InvalidRequestException",
                "no certificateSigningRequest".into(),
            );
        };
        let signed = CertificateSigningRequestParams::from_pem(csr)
            .map_err(|e| e.to_string())
            .and_then(|p| p.signed_by(&self.0).map_err(|e| e.to_string()));
        let pem = match signed {
            Ok(cert) => cert.pem(),
            Err(e) => return fail(400, "InvalidRequestException", format!("the CSR: {e}")),
        };
        let active = path.contains("setAsActive=true");
        let body = serde_json::json!({"certificatePem": pem,
            "status": if active { "ACTIVE" } else { "INACTIVE" }})
        .to_string();
        let mut headers: Vec<String> = req
            .headers
            .iter()
            .filter(|h| !h.to_ascii_lowercase().starts_with("content-length:"))
            .cloned()
            .collect();
        headers.push(format!("Content-Length: {}", body.len()));
        let register = Request {
            line: "POST /certificate/register-no-ca HTTP/1.1\r\n".into(),
            headers,
            body: body.into_bytes(),
        };
        let raw = match forward(&register, upstream) {
            Ok(r) => r,
            Err(e) => return fail(500, "InternalFailureException", e.to_string()),
        };
        let text = String::from_utf8_lossy(&raw);
        let (head, json) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        if !head.starts_with("HTTP/1.1 200") {
            return fail(
                500,
                "InternalFailureException",
                format!("moto: {head} {json}"),
            );
        }
        let registered: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let answer = serde_json::json!({
            "certificateArn": registered["certificateArn"],
            "certificateId": registered["certificateId"],
            "certificatePem": pem,
        })
        .to_string();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .into_bytes()
    }
}
