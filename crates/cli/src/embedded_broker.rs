//! The embedded MQTT broker (rumqttd) that `serve` starts when no broker URL
//! is configured (api-v1.md start-up contract): for demos and small sites.
//! Production deployments use Mosquitto or EMQX (docs/operations.md).

use std::net::SocketAddr;

use anyhow::Context;

/// Starts rumqttd on `listen` (MQTT 3.1.1) in its own threads and returns the
/// URL the gateway connects to.
pub fn start(listen: SocketAddr) -> anyhow::Result<String> {
    // Fail early and clearly when the port is taken (rumqttd would only log).
    drop(std::net::TcpListener::bind(listen).with_context(|| {
        format!(
            "the embedded MQTT broker cannot listen on {listen} (in use?); set --embedded-mqtt-listen or --mqtt-url"
        )
    })?);
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "{listen}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 1000
    dynamic_filters = true
"#
    );
    let config: rumqttd::Config = toml::from_str(&text).context("embedded broker configuration")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("embedded-mqtt".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .context("starting the embedded MQTT broker")?;
    tracing::info!(%listen, "embedded MQTT broker (rumqttd) started");
    Ok(format!("mqtt://{listen}"))
}
