//! The Redis test harness (`common::redis`) does what the `--redis-url`
//! tests rely on: a private Redis on a free loopback port, raw commands, and
//! restarts on the same port and dir that keep the data with AOF (after
//! SIGTERM and after SIGKILL) and lose it without.

mod common;

use common::redis::RedisServer;

#[tokio::test]
async fn it_answers_on_its_own_port() {
    let redis = RedisServer::start(false).await;
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
    assert_eq!(redis.command(&["PING"]).await, "+PONG\r\n");
    assert_eq!(
        redis.command(&["SET", "greeting", "hi there"]).await,
        "+OK\r\n"
    );
    assert_eq!(
        redis.command(&["GET", "greeting"]).await,
        "$8\r\nhi there\r\n"
    );
    assert_eq!(redis.command(&["GET", "absent"]).await, "$-1\r\n");
    assert_eq!(redis.command(&["DBSIZE"]).await, ":1\r\n");
    assert_eq!(
        redis.command(&["CONFIG", "GET", "appendonly"]).await,
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert_eq!(
        redis.command(&["CONFIG", "GET", "save"]).await,
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
    assert!(
        redis.command(&["NOSUCHCOMMAND"]).await.starts_with("-ERR"),
        "an error reply is returned, not a failure"
    );
    assert!(redis.log().contains("Ready to accept connections"));
}

#[tokio::test]
async fn without_aof_a_restart_comes_back_empty_on_the_same_port() {
    let mut redis = RedisServer::start(false).await;
    let port = redis.port();
    redis.command(&["SET", "key", "value"]).await;
    redis.restart().await;
    assert_eq!(redis.port(), port);
    assert_eq!(redis.command(&["GET", "key"]).await, "$-1\r\n");
    assert_eq!(redis.command(&["DBSIZE"]).await, ":0\r\n");
}

#[tokio::test]
async fn with_aof_the_data_survives_a_stop_and_a_kill() {
    let mut redis = RedisServer::start(true).await;
    let port = redis.port();
    assert_eq!(
        redis.command(&["CONFIG", "GET", "appendfsync"]).await,
        "*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n"
    );
    redis.command(&["SET", "key", "value"]).await;
    redis.restart().await;
    assert_eq!(redis.port(), port);
    assert_eq!(redis.command(&["GET", "key"]).await, "$5\r\nvalue\r\n");

    // A crash: whatever was acknowledged was fsynced.
    redis.command(&["RPUSH", "list", "a", "b", "c"]).await;
    redis.kill().await;
    assert!(!redis.is_running());
    redis.restart().await;
    redis.wait_ready().await;
    assert_eq!(redis.command(&["GET", "key"]).await, "$5\r\nvalue\r\n");
    assert_eq!(
        redis.command(&["LRANGE", "list", "0", "-1"]).await,
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
}

#[tokio::test]
async fn extra_arguments_reach_redis() {
    let redis = RedisServer::builder()
        .args(&["--maxmemory-policy", "noeviction"])
        .start()
        .await;
    assert_eq!(
        redis.command(&["CONFIG", "GET", "maxmemory-policy"]).await,
        "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
    );
}
