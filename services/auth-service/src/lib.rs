pub mod workflow_source;
