//! The `ota-status` function: see [`rmdeploy_lambdas::ota_status`].

rmdeploy_lambdas::one_table_function!("TABLE_OTA_JOBS", rmdeploy_lambdas::ota_status::handle);
