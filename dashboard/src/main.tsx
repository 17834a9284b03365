/**
 * The dashboard's entry: one connection, one live feed, the app. Everything
 * it shows comes from the gateway that served the page, over its public
 * GraphQL API (graphql-ws for the live feed, HTTP for queries and
 * mutations), with the token saved in this browser, if any.
 */
import { render } from 'preact';
import { Connection, gatewaySocketUrl } from './api/connection';
import { App } from './app';
import { rememberVisits } from './history/lastVisit';
import { LiveFeed } from './live/feed';
import './style.css';

const connection = new Connection(gatewaySocketUrl());
const feed = new LiveFeed(connection);
rememberVisits(feed);
render(<App connection={connection} feed={feed} />, document.getElementById('app')!);
