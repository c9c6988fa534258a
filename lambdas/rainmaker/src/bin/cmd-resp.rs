//! The `cmd-resp` function: `esp_cmd_resp`.

rmdeploy_lambdas::one_table_function!("TABLE_NODE_PARAMS", rmdeploy_lambdas::cmd_resp::handle);
