// Source: brettchaldecott/kinde-workflow utils/utils.ts @ 03a62d8f441aaed78f0e5b6d83a45beb40bba379 (ISC)
const settings = {
    output: '123'
}

export {
    settings
}