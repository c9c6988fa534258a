//! The `params` function: `esp_set_params` and `esp_init_params`.

rmdeploy_lambdas::one_table_function!("TABLE_NODE_PARAMS", rmdeploy_lambdas::params::handle);
