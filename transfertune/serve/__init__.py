"""The recipe service: docc's own client asks, at compile time, which recipe works for
its SDFG on its machine, and gets docc Recorder steps to replay."""
