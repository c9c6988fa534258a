//! The `node-config` function: see [`rmdeploy_lambdas::node_config`].

rmdeploy_lambdas::one_table_function!("TABLE_NODES", rmdeploy_lambdas::node_config::handle);
