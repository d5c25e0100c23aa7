# Pulseboard in a container: `docker build -t pulseboard .`, then
#   docker run -p 8080:8080 -v pulseboard-data:/var/lib/pulseboard \
#     -e PULSEBOARD_PUBLISH_TOKEN=... pulseboard
# Settings are the PULSEBOARD_* variables of docs/deploy.md.

# --- build: the SPA (trunk) and the server (cargo), both release ------------
FROM rust:1-bookworm AS build
# trunk fetches the wasm-bindgen and wasm-opt versions pinned in
# frontend/Trunk.toml on its first build; its post-build hook needs node.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown \
 && cargo install --locked trunk@0.21.14
WORKDIR /src
COPY . .
RUN cd frontend && trunk build --release
RUN cargo build --release --locked -p pulseboard-server

# --- run: the binary and the SPA, nothing else ------------------------------
FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/pulseboard --shell /usr/sbin/nologin pulseboard \
 && mkdir -p /var/lib/pulseboard && chown pulseboard:pulseboard /var/lib/pulseboard
COPY --from=build /src/target/release/pulseboard /usr/local/bin/pulseboard
COPY --from=build /src/frontend/dist /usr/share/pulseboard/dist
ENV PULSEBOARD_ADDR=0.0.0.0:8080 \
    PULSEBOARD_STATIC_DIR=/usr/share/pulseboard/dist \
    PULSEBOARD_DATA_DIR=/var/lib/pulseboard
USER pulseboard
VOLUME /var/lib/pulseboard
EXPOSE 8080
# SIGTERM tells every viewer to reconnect elsewhere and closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pulseboard"]
