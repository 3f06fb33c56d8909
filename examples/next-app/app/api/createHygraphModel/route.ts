import { NextResponse } from "next/server";

import { configured, mgmtApi as trustedMgmtApi } from "@/lib/authority";

const CREATE_MODEL = `
  mutation CreateModelMutation($input: CreateModelInput!) {
    createModel(data: $input) {
      migration {
        id
      }
    }
  }
`;

// Creates a model through the platform's management API, with the token the
// page got from the platform (context.environment.authToken).
export async function POST(request: Request) {
  const { authToken, environmentId, mgmtApi } = await request.json();

  if (!authToken || !environmentId || !mgmtApi) {
    return NextResponse.json({ message: "Missing required fields: authToken, environmentId, mgmtApi" }, { status: 400 });
  }
  if (!configured || mgmtApi !== trustedMgmtApi) {
    return NextResponse.json({ message: "mgmtApi is not the authority this app trusts" }, { status: 400 });
  }

  const response = await fetch(mgmtApi, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${authToken}`,
    },
    body: JSON.stringify({
      query: CREATE_MODEL,
      variables: {
        input: {
          environmentId,
          apiId: "Post",
          apiIdPlural: "Posts",
          displayName: "Post",
        },
      },
    }),
  });
  const data = await response.json();

  return NextResponse.json(data, { status: response.status });
}
