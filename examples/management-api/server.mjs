// A stand-in for a platform's management API: a GraphQL server (graphql-yoga)
// with the part of Hygraph's management schema the guide's app uses,
// `createModel(data: CreateModelInput!)`. Run it behind
// `tally serve --management-upstream http://127.0.0.1:4001/graphql`: Tally
// checks each root field against the caller's grants and forwards only what
// is allowed, with X-Tally-* decision headers and without the credentials.
//
// Like any upstream behind Tally it listens on loopback only and trusts the
// X-Tally-* headers because only Tally can reach it. It acts on the
// environment in the mutation's input — the one Tally authorized — and logs
// each model it creates as one JSON line (what tests read).
//
//   PORT=4001 node examples/management-api/server.mjs
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const models = [];

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    input CreateModelInput {
      environmentId: ID!
      apiId: String!
      apiIdPlural: String!
      displayName: String!
      description: String
    }
    type Migration {
      id: ID!
      status: String!
    }
    type CreateModelPayload {
      migration: Migration!
    }
    type Model {
      environmentId: ID!
      apiId: String!
      displayName: String!
    }
    type Query {
      models(environmentId: ID!): [Model!]!
    }
    type Mutation {
      createModel(data: CreateModelInput!): CreateModelPayload!
    }
  `,
  resolvers: {
    Query: {
      models: (_, { environmentId }) => models.filter((m) => m.environmentId === environmentId),
    },
    Mutation: {
      createModel: (_, { data }, { request }) => {
        const migration = { id: `migration-${models.length + 1}`, status: "SUCCESS" };
        models.push({ ...data, migration: migration.id });
        console.log(JSON.stringify({
          created: data,
          migration: migration.id,
          principal: request.headers.get("x-tally-principal"),
          reason: request.headers.get("x-tally-reason"),
          authorization: request.headers.get("authorization"),
        }));
        return { migration };
      },
    },
  },
});

const yoga = createYoga({ schema, graphqlEndpoint: "/graphql", landingPage: false, logging: false });
const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 4001), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`example management API on http://127.0.0.1:${port}/graphql`);
});
