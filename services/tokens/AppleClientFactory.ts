import { AppleBooksClient, type AppleBooksClientOptions } from '../apple/AppleBooksClient';
import type { Secret } from '../secrets/Secret';

export type AppleClientSettings = Omit<AppleBooksClientOptions, 'token'>;

/** Makes an Apple client for one token with the deployment's settings (base URL, polling, logger). */
export class AppleClientFactory {
  constructor(private readonly settings: AppleClientSettings) {}

  forToken(token: Secret): AppleBooksClient {
    return new AppleBooksClient({ ...this.settings, token });
  }
}
