//! 50 concurrent creates of one name with CREATE_FAIL_IF_EXISTS, over gRPC-web on 50 connections
//! of their own, released together: exactly one succeeds, 49 are ALREADY_EXISTS, and the secret
//! is the winner's (its id, its keys). Several rounds, over HTTP/1.1 and HTTP/2.

mod common;

use std::sync::Arc;

use common::{TestServer, Web, create_request, lookup_request};
use modal_secrets_core::Code;
use modal_secrets_core::proto::{
    ClientHelloResponse, ObjectCreationType, SecretGetOrCreateResponse,
};
use tokio::sync::Barrier;

const CONTENDERS: usize = 50;
const ROUNDS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_creates_of_one_name_one_winner() {
    let server = TestServer::start().await;
    for round in 0..ROUNDS {
        let name = format!("contested-{round}");
        let barrier = Arc::new(Barrier::new(CONTENDERS));
        let mut tasks = Vec::new();
        for i in 0..CONTENDERS {
            // Half over HTTP/1.1, half over HTTP/2; each its own connection, opened beforehand.
            let web = if i % 2 == 0 {
                Web::http1(&server.url, server.token.clone())
            } else {
                Web::http2(&server.url, server.token.clone())
            };
            let hello = web.call("ClientHello", &()).await;
            hello.decode::<ClientHelloResponse>().expect("connected");
            let (barrier, name) = (Arc::clone(&barrier), name.clone());
            tasks.push(tokio::spawn(async move {
                let key = format!("FROM_{i}");
                let request = create_request(
                    &name,
                    ObjectCreationType::CreateFailIfExists,
                    &[(key.as_str(), "v")],
                );
                barrier.wait().await;
                let answer = web.call("SecretGetOrCreate", &request).await;
                (i, answer)
            }));
        }
        let mut winners = Vec::new();
        let mut already = 0;
        for task in tasks {
            let (i, answer) = task.await.unwrap();
            match answer.code() {
                Code::Ok => {
                    let created: SecretGetOrCreateResponse = answer.decode().unwrap();
                    winners.push((i, created.secret_id));
                }
                Code::AlreadyExists => {
                    already += 1;
                    assert!(answer.message().contains(&name), "{}", answer.message());
                }
                other => panic!("contender {i}: {other:?} {}", answer.message()),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(already, CONTENDERS - 1);
        let (winner, id) = &winners[0];
        let found: SecretGetOrCreateResponse = server
            .web()
            .call("SecretGetOrCreate", &lookup_request(&name))
            .await
            .decode()
            .unwrap();
        assert_eq!(&found.secret_id, id);
        assert_eq!(found.metadata.unwrap().keys, [format!("FROM_{winner}")]);
    }
}
