//! A real `moto_server` (PyPI moto[server]) on 127.0.0.1, on a free port, for one test.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let tools = super::python_tools();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tools.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// rmdeploy with test credentials, pointed at this emulator.
    pub fn rmdeploy(&self) -> assert_cmd::Command {
        let mut cmd = super::rmdeploy();
        self.aws_env(&mut cmd);
        cmd
    }

    pub fn aws_env(&self, cmd: &mut assert_cmd::Command) {
        for var in [
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_SESSION_TOKEN",
        ] {
            cmd.env_remove(var);
        }
        // super::rmdeploy() already points the shared AWS files nowhere.
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("RMDEPLOY_POLL_MS", "20");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// The rmdeploy binary as a plain process (for signals), its environment cleared but for
    /// what a build and this emulator need: HOME, PATH with the Lambda tools, the shared Lambda
    /// target folder, test credentials and the endpoint.
    pub fn process(&self) -> std::process::Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("rmdeploy"));
        cmd.env_clear()
            .env("HOME", std::env::var("HOME").unwrap())
            .env("PATH", super::lambda_build_path())
            .env(
                "RMDEPLOY_LAMBDA_TARGET",
                rmdeploy::artifacts::build::target_dir(None)
                    .expect("a private Lambda build folder"),
            )
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
        cmd
    }

    /// rmdeploy's own clients for this emulator in `region`, as `Clients::connect` makes them for
    /// `--endpoint-url` (its retries, timeouts and path-style S3), with the test credentials given
    /// to the SDK rather than set in the process environment, which every test of the binary
    /// shares.
    pub async fn clients(&self, region: &str) -> rmdeploy::aws::Clients {
        rmdeploy::aws::Clients::connect(
            &rmdeploy::aws::Access {
                aws_profile: None,
                endpoint_url: Some(self.url.clone()),
                credentials: Some(aws_credential_types::Credentials::new(
                    "testing", "testing", None, None, "tests",
                )),
            },
            region,
        )
        .await
    }

    /// A CloudFormation client of the emulator for `region`, with the runtime it runs on.
    pub fn cloudformation(
        &self,
        region: &str,
    ) -> (tokio::runtime::Runtime, aws_sdk_cloudformation::Client) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_string()))
                .endpoint_url(&self.url)
                .credentials_provider(aws_credential_types::Credentials::for_tests())
                .load(),
        );
        (rt, aws_sdk_cloudformation::Client::new(&config))
    }

    /// The stacks that exist in `region` (name, status), and how many change sets on them were
    /// never executed: what a plan or a failure may have left behind. (Executed ones are history:
    /// CloudFormation deletes them, moto keeps them listed.)
    pub fn leftovers(&self, region: &str) -> (Vec<(String, String)>, usize) {
        let (rt, cfn) = self.cloudformation(region);
        rt.block_on(async {
            let stacks: Vec<(String, String)> = cfn
                .list_stacks()
                .send()
                .await
                .unwrap()
                .stack_summaries()
                .iter()
                .filter(|s| s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE"))
                .map(|s| {
                    (
                        s.stack_name().unwrap().to_string(),
                        s.stack_status().unwrap().as_str().to_string(),
                    )
                })
                .collect();
            // moto lists every change set of the region for any stack name: count each once.
            let mut open = std::collections::BTreeSet::new();
            for (name, _) in &stacks {
                for c in cfn
                    .list_change_sets()
                    .stack_name(name)
                    .send()
                    .await
                    .unwrap()
                    .summaries()
                {
                    if c.execution_status().map(|e| e.as_str()) != Some("EXECUTE_COMPLETE") {
                        open.insert(c.change_set_id().unwrap_or_default().to_string());
                    }
                }
            }
            let open = open.len();
            (stacks, open)
        })
    }
}
