// A Hygraph-style GraphQL content API (graphql-yoga) to put behind
// `tally serve --upstream http://127.0.0.1:4002`: one endpoint per
// environment (`/v2/{project}/{environment}`), the model Post (and Author),
// the stages DRAFT and PUBLISHED, and `where` filters with AND/OR. Tally's
// gateway authorizes every root field and writes the caller's row
// conditions into `where`; this server applies them as any content API
// would.
//
// Like every upstream behind Tally it listens on loopback only. Each
// operation it runs is logged as one JSON line (query, variables, the
// decision headers), which tests read (`QUIET=1`: none, for load tests).
// `IGNORE_WHERE=1` makes it ignore
// `where` on lists, as a careless upstream might: the gateway still answers
// only the caller's rows.
//
//   PORT=4002 node examples/graphql-content-api/server.mjs
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const ignoreWhere = process.env.IGNORE_WHERE === "1";
const quiet = process.env.QUIET === "1";

// Each post has a draft (the latest) and, once published, a published copy.
const posts = [
  { id: "p1", ownerId: "user:1", title: "First", internalNotes: "n1", published: true },
  { id: "p2", ownerId: "user:2", title: "Second", internalNotes: "n2", published: true },
  { id: "p3", ownerId: "user:1", title: "Draft only", internalNotes: "n3", published: false },
];
let next = 4;

const atStage = (stage) => (stage === "DRAFT" ? posts : posts.filter((p) => p.published));

function matches(post, where) {
  if (!where) return true;
  return Object.entries(where).every(([k, v]) => {
    if (v === null || v === undefined) return true;
    if (k === "AND") return v.every((w) => matches(post, w));
    if (k === "OR") return v.some((w) => matches(post, w));
    if (k.endsWith("_contains")) return String(post[k.slice(0, -"_contains".length)] ?? "").includes(v);
    return post[k] === v;
  });
}

const list = (stage, where, first) => {
  const rows = atStage(stage).filter((p) => ignoreWhere || matches(p, where));
  return first === undefined || first === null ? rows : rows.slice(0, first);
};
const one = (stage, where) => atStage(stage).find((p) => p.id === where.id) ?? null;

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    enum Stage { DRAFT PUBLISHED }
    enum Locale { en de }
    type Post { id: ID! ownerId: String title: String internalNotes: String }
    input PostWhereInput {
      AND: [PostWhereInput!]
      OR: [PostWhereInput!]
      id: ID
      ownerId: String
      title: String
      title_contains: String
    }
    input PostWhereUniqueInput { id: ID }
    input PostCreateInput { ownerId: String title: String internalNotes: String }
    input PostUpdateInput { ownerId: String title: String internalNotes: String }
    type PostEdge { node: Post! }
    type Aggregate { count: Int! }
    type PostConnection { edges: [PostEdge!]! aggregate: Aggregate! }
    type BatchPayload { count: Int! }
    type Author { id: ID! name: String }
    type Query {
      post(where: PostWhereUniqueInput!, stage: Stage = PUBLISHED, locales: [Locale!]): Post
      posts(where: PostWhereInput, stage: Stage = PUBLISHED, locales: [Locale!], first: Int): [Post!]!
      postsConnection(where: PostWhereInput, stage: Stage = PUBLISHED, locales: [Locale!], first: Int): PostConnection!
      authors: [Author!]!
    }
    type Mutation {
      createPost(data: PostCreateInput!): Post
      updatePost(where: PostWhereUniqueInput!, data: PostUpdateInput!): Post
      deletePost(where: PostWhereUniqueInput!): Post
      publishPost(where: PostWhereUniqueInput!, to: [Stage!] = [PUBLISHED]): Post
      updateManyPosts(where: PostWhereInput, data: PostUpdateInput!): BatchPayload!
    }
  `,
  resolvers: {
    Query: {
      post: (_, { where, stage }) => one(stage, where),
      posts: (_, { where, stage, first }) => list(stage, where, first),
      postsConnection: (_, { where, stage, first }) => {
        const rows = list(stage, where, first);
        return { edges: rows.map((node) => ({ node })), aggregate: { count: rows.length } };
      },
      authors: () => [{ id: "a1", name: "Ada" }],
    },
    Mutation: {
      createPost: (_, { data }) => {
        const post = { id: `p${next++}`, published: false, ...data };
        posts.push(post);
        return post;
      },
      updatePost: (_, { where, data }) => {
        const post = one("DRAFT", where);
        if (post) Object.assign(post, data);
        return post;
      },
      deletePost: (_, { where }) => {
        const at = posts.findIndex((p) => p.id === where.id);
        return at < 0 ? null : posts.splice(at, 1)[0];
      },
      publishPost: (_, { where }) => {
        const post = one("DRAFT", where);
        if (post) post.published = true;
        return post;
      },
      updateManyPosts: (_, { where, data }) => {
        const rows = posts.filter((p) => matches(p, where));
        for (const p of rows) Object.assign(p, data);
        return { count: rows.length };
      },
    },
  },
});

const yoga = createYoga({
  schema,
  graphqlEndpoint: "/v2/:project/:environment",
  landingPage: false,
  logging: false,
  plugins: [
    {
      onExecute({ args }) {
        if (quiet) return;
        const h = args.contextValue.request.headers;
        console.log(JSON.stringify({
          query: args.document.loc?.source.body,
          variables: args.variableValues ?? {},
          principal: h.get("x-tally-principal"),
          reason: h.get("x-tally-reason"),
          authorization: h.get("authorization"),
        }));
      },
    },
  ],
});
const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 4002), "127.0.0.1", () => {
  console.log(`example GraphQL content API on http://127.0.0.1:${server.address().port}`);
});
