// Generates tests/unit/sigv4_vectors/sdk_put.txt: a presigned S3 PutObject URL made by the
// official AWS SDK for JavaScript, which lib/sigv4.c must reproduce byte for byte.
// Developer-only: the C unit test reads the committed fixture, so node is not needed at
// test time. Regenerate with `npm ci && npm run sigv4-fixture` in tests/tools.
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const client = new S3Client({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:19080',
  forcePathStyle: true,
  credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
  // Without this the SDK adds CRC32 checksum parameters the server side never signs.
  requestChecksumCalculation: 'WHEN_REQUIRED',
});

const cmd = new PutObjectCommand({
  Bucket: 'media',
  Key: 'abc/def',
  ContentType: 'image/jpeg',
  ContentLength: 12345,
});

const url = await getSignedUrl(client, cmd, {
  expiresIn: 900,
  // Fixed so the fixture is reproducible; the C test signs at the same instant.
  signingDate: new Date('2024-05-01T12:34:56Z'),
  // By default the presigner hoists or drops these; the C side signs them as headers.
  signableHeaders: new Set(['content-type', 'content-length']),
});

process.stdout.write(url + '\n');
