//! The `ts-ingest` function: see [`rmdeploy_lambdas::ts_ingest`].

rmdeploy_lambdas::one_table_function!("TABLE_TIMESERIES", rmdeploy_lambdas::ts_ingest::handle);
